using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>How a second-factor sign-in ended; the endpoint turns it into HTTP.</summary>
public enum MfaLoginResult { Success, Malformed, InvalidToken, WrongCode, TooManyAttempts, Banned, SessionLimitReached, InvalidCredentials }

/// <summary>How the second step ended; a success carries the device's (new or renewed) device token, as a password login's does.</summary>
public sealed record MfaLoginOutcome(MfaLoginResult Result, IssuedCredential? Credential = null, string? Detail = null, TimeSpan? RetryAfter = null,
    string? DeviceToken = null);

/// <summary>
/// The second step of a login: after the right password (<see cref="CheckAsync"/>, the hook LoginService calls) and
/// when it is answered (<see cref="CompleteAsync"/>); and the passwordless sign-in with a passkey.
/// <para>
/// The pending login lives in Redis under the hash of its <c>mfa_token</c>, for <see cref="MfaOptions.PendingLifetime"/>,
/// bound to the account (the token names the user; the proof is checked against that user's factors only) and to the
/// password hash that was verified. Wrong codes count twice: against the pending login (at
/// <see cref="MfaOptions.MaxCodeFailures"/> it is gone) and on the failed-login counters, like wrong passwords.
/// </para>
/// </summary>
public sealed class MfaLogins(
    AppDbContext db,
    Factors factors,
    MfaStore store,
    ProofVerifier verifier,
    Passkeys passkeys,
    CodeAttempts attempts,
    DeviceTokens devices,
    SessionService sessions,
    AuditLog audit,
    TimeProvider time,
    IOptions<MfaOptions> options) : ILoginSecondFactor
{
    public async Task<LoginSecondStep> CheckAsync(User user, Tenant tenant, string verifiedPasswordHash, string deviceType, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var summary = await factors.SummaryAsync(user.Id, ct);
        if (summary.Any)
        {
            var token = await store.StartLoginAsync(user.Id, tenant.Id, deviceType, verifiedPasswordHash);
            return new LoginSecondStep(new SecondFactorChallenge(token, summary.Methods(), options.Value.PendingLifetime), SessionAssurance.PasswordAt(now));
        }
        // No factor yet: a session, restricted to enrolling one when the tenant requires it of this user.
        var required = await MfaPolicies.RequiresAsync(db, user.Id, tenant.MfaPolicy, ct);
        return new LoginSecondStep(null, new SessionAssurance(AuthMethods.Password, now, EnrollmentOnly: required));
    }

    public static bool IsTokenShaped(string? token) => token is { Length: >= 16 and <= 128 };

    public async Task<MfaLoginOutcome> CompleteAsync(string? token, FactorProof proof, string? ip, ClientNetwork network, string? presentedDevice, string? userAgent, CancellationToken ct)
    {
        if (!IsTokenShaped(token)) return new MfaLoginOutcome(MfaLoginResult.Malformed, Detail: "mfa_token is required.");
        if (ProofVerifier.Shape(proof).Problem is { } problem) return new MfaLoginOutcome(MfaLoginResult.Malformed, Detail: problem);
        var pending = await store.GetLoginAsync(token!);
        if (pending is null) return new MfaLoginOutcome(MfaLoginResult.InvalidToken);
        var user = await db.Users.AsNoTracking().Include(u => u.Tenant).FirstOrDefaultAsync(u => u.Id == pending.UserId, ct);
        // The password changed (or the user went) since it was verified: this sign-in proved the old one.
        if (user?.Tenant is null || MfaStore.HashOf(user.PasswordHash) != pending.PasswordDigest)
        {
            await store.CompleteLoginAsync(token!);
            return new MfaLoginOutcome(MfaLoginResult.InvalidToken);
        }
        var tenant = user.Tenant;

        var attempt = await attempts.BeginAsync(tenant.Slug, user.NormalizedUsername, network, presentedDevice);
        if (attempt.RetryAfter is { } retry) return new MfaLoginOutcome(MfaLoginResult.TooManyAttempts, RetryAfter: retry);
        var counted = false;
        var succeeded = false;
        try
        {
            var proved = await verifier.VerifyAsync(user.Id, tenant.Id, proof, CeremonyPurpose.SecondFactor, MfaStore.HashOf(token!), ip, ct);
            if (!proved.Verified)
            {
                counted = true;
                return await store.FailLoginAsync(token!) < 0 ? new MfaLoginOutcome(MfaLoginResult.InvalidToken) : new MfaLoginOutcome(MfaLoginResult.WrongCode);
            }
            // Of two requests completing one pending login, one wins.
            if (!await store.CompleteLoginAsync(token!)) return new MfaLoginOutcome(MfaLoginResult.InvalidToken);
            succeeded = true;
            var now = time.GetUtcNow();
            var assurance = SessionAssurance.PasswordAt(now).With(proved.Proved, now);
            audit.Add(MfaAuditTypes.Verified, user.Id, user.Id, tenant.Id, ip, new { method = proved.Method, step = "login" });
            return await OpenAsync(user, tenant, pending.DeviceType, ip, presentedDevice, userAgent, assurance, ct);
        }
        finally
        {
            if (!counted) await (succeeded ? attempts.SucceededAsync(attempt) : attempts.AbandonAsync(attempt));
        }
    }

    /// <summary>Passwordless: a discoverable passkey of the tenant, with user verification, is a full sign-in at aal2.</summary>
    public async Task<MfaLoginOutcome> PasskeyLoginAsync(string? ceremonyId, JsonElement? credential, string? ip, string? presentedDevice, string? userAgent, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(ceremonyId) || ceremonyId.Length > 64 || credential is not { ValueKind: JsonValueKind.Object } json)
            return new MfaLoginOutcome(MfaLoginResult.Malformed, Detail: "ceremony_id and credential (the browser's PublicKeyCredential as JSON) are required.");
        var verified = await passkeys.VerifyAssertionAsync(CeremonyPurpose.Login, ceremonyId, json, null, null, ct);
        if (verified is not { UserVerified: true })
        {
            audit.Add(MfaAuditTypes.Failed, null, verified?.UserId, null, ip, new { method = MfaMethods.Passkey, purpose = "login" });
            await db.SaveChangesAsync(ct);
            return new MfaLoginOutcome(MfaLoginResult.InvalidCredentials);
        }
        var user = await db.Users.AsNoTracking().Include(u => u.Tenant).FirstOrDefaultAsync(u => u.Id == verified.UserId, ct);
        if (user?.Tenant is null) return new MfaLoginOutcome(MfaLoginResult.InvalidCredentials);
        var now = time.GetUtcNow();
        audit.Add(MfaAuditTypes.PasskeyLogin, user.Id, user.Id, user.TenantId, ip, new { passkey_id = verified.PasskeyId });
        return await OpenAsync(user, user.Tenant, "web", ip, presentedDevice, userAgent, new SessionAssurance(AuthMethods.HardwareKey | AuthMethods.MultiFactor, now), ct);
    }

    private async Task<MfaLoginOutcome> OpenAsync(User user, Tenant tenant, string device, string? ip, string? presentedDevice, string? userAgent,
        SessionAssurance assurance, CancellationToken ct)
    {
        if (user.BannedUntil > time.GetUtcNow())
        {
            audit.Add(AuditTypes.LoginRejected, null, user.Id, tenant.Id, ip, new { reason = "banned" });
            await db.SaveChangesAsync(ct);
            return new MfaLoginOutcome(MfaLoginResult.Banned);
        }
        var created = await sessions.CreateAsync(new SessionService.LoginRequestInfo(user.Id, tenant, device, ip, userAgent, user.PasswordHash, assurance), ct);
        return created.Refused switch
        {
            SessionService.Refusal.None => new MfaLoginOutcome(MfaLoginResult.Success, created.Credential, DeviceToken: DeviceTokenFor(user, tenant, presentedDevice)),
            SessionService.Refusal.Banned => new MfaLoginOutcome(MfaLoginResult.Banned),
            SessionService.Refusal.LimitReached => new MfaLoginOutcome(MfaLoginResult.SessionLimitReached),
            _ => new MfaLoginOutcome(MfaLoginResult.InvalidToken),
        };
    }

    // The device this sign-in came from is known to the account from now on (LoginThrottle counts it on its own).
    private string DeviceTokenFor(User user, Tenant tenant, string? presented)
    {
        var account = LoginService.Account(tenant.Slug, user.NormalizedUsername);
        return devices.Issue(account, devices.Validate(presented, account) ?? Guid.NewGuid());
    }
}
