using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>A proof of a second factor: one of a TOTP code, a recovery code, or a passkey's answer to a ceremony.</summary>
public sealed record FactorProof(
    [property: Description("The 6 digits of the authenticator app.")] string? Code = null,
    [property: Description("One of the recovery codes (dashes optional).")] string? RecoveryCode = null,
    [property: Description("The ceremony the passkey answers (from the matching /options call).")] string? CeremonyId = null,
    [property: Description("The browser's PublicKeyCredential, JSON form (toJSON()).")] JsonElement? Credential = null);

/// <summary>How a proof was judged: malformed (400, nothing counted), wrong (counted), or the methods it proved.</summary>
public sealed record ProofOutcome(string? Malformed, string Method, AuthMethods Proved)
{
    public bool Verified => Malformed is null && Proved != AuthMethods.None;
}

/// <summary>Checks a proof of a second factor for one user, and records it (audit, metrics) without any of its secrets.</summary>
public sealed class ProofVerifier(AppDbContext db, Factors factors, Passkeys passkeys, AuditLog audit, MfaMetrics metrics)
{
    /// <summary>Which method a proof uses, or why it is malformed.</summary>
    public static (string? Method, string? Problem) Shape(FactorProof proof)
    {
        var given = (proof.Code is not null ? 1 : 0) + (proof.RecoveryCode is not null ? 1 : 0) + (proof.CeremonyId is not null || proof.Credential is not null ? 1 : 0);
        if (given != 1) return (null, "Send exactly one of code, recovery_code, or ceremony_id with credential.");
        if (proof.Code is not null) return Factors.IsCodeShaped(proof.Code) ? (MfaMethods.Totp, null) : (null, "code must be 6 digits.");
        if (proof.RecoveryCode is not null)
            return Factors.NormalizeRecoveryCode(proof.RecoveryCode) is not null ? (MfaMethods.RecoveryCode, null) : (null, "recovery_code is not a recovery code.");
        if (string.IsNullOrEmpty(proof.CeremonyId) || proof.CeremonyId.Length > 64) return (null, "ceremony_id is required with credential.");
        if (proof.Credential is not { ValueKind: JsonValueKind.Object }) return (null, "credential must be the browser's PublicKeyCredential as JSON.");
        return (MfaMethods.Passkey, null);
    }

    /// <summary>
    /// Verifies <paramref name="proof"/> for <paramref name="userId"/>. A passkey must answer a ceremony of
    /// <paramref name="purpose"/> bound to <paramref name="binding"/>. A recovery code proves <c>otp</c>, like TOTP.
    /// </summary>
    public async Task<ProofOutcome> VerifyAsync(Guid userId, Guid tenantId, FactorProof proof, CeremonyPurpose purpose, string? binding, string? ip, CancellationToken ct)
    {
        var (method, problem) = Shape(proof);
        if (method is null) return new ProofOutcome(problem, "", AuthMethods.None);
        var proved = AuthMethods.None;
        switch (method)
        {
            case MfaMethods.Totp:
                if (await factors.VerifyTotpAsync(userId, proof.Code!, ct)) proved = AuthMethods.OneTimeCode;
                break;
            case MfaMethods.RecoveryCode:
                if (await factors.UseRecoveryCodeAsync(userId, Factors.NormalizeRecoveryCode(proof.RecoveryCode)!, ct))
                {
                    proved = AuthMethods.OneTimeCode;
                    metrics.Event("recovery-code-used", MfaMethods.RecoveryCode);
                    var left = await db.RecoveryCodes.CountAsync(r => r.UserId == userId && r.UsedAt == null, ct);
                    audit.Add(MfaAuditTypes.RecoveryCodeUsed, userId, userId, tenantId, ip, new { left });
                }
                break;
            default:
                var verified = await passkeys.VerifyAssertionAsync(purpose, proof.CeremonyId!, proof.Credential!.Value, userId, binding, ct);
                // A user-verified passkey is two factors in one (possession and the PIN or biometric that unlocked it).
                if (verified is not null) proved = verified.UserVerified ? AuthMethods.HardwareKey | AuthMethods.MultiFactor : AuthMethods.HardwareKey;
                break;
        }
        if (proved == AuthMethods.None)
        {
            metrics.Event("failed", method);
            audit.Add(MfaAuditTypes.Failed, null, userId, tenantId, ip, new { method, purpose = purpose.ToString() });
        }
        else
        {
            metrics.Event("verified", method);
        }
        await db.SaveChangesAsync(ct);
        return new ProofOutcome(null, method, proved);
    }
}
