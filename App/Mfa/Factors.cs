using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using OtpNet;
using SessionGate.Data;

namespace SessionGate.Mfa;

/// <summary>What a user has enrolled: the answer of GET /auth/mfa, and of the admin's view of a user.</summary>
public sealed record FactorSummary(bool Totp, int Passkeys, int RecoveryCodesLeft)
{
    public bool Any => Totp || Passkeys > 0;

    /// <summary>The methods a pending login may be answered with.</summary>
    public string[] Methods()
    {
        var methods = new List<string>(3);
        if (Totp) methods.Add("totp");
        if (Passkeys > 0) methods.Add("passkey");
        if (Any && RecoveryCodesLeft > 0) methods.Add("recovery_code");
        return [.. methods];
    }
}

/// <summary>
/// TOTP (RFC 6238: Base32 secret, 6 digits, 30 s, SHA-1, as every authenticator app expects) and recovery codes, in
/// PostgreSQL. A TOTP code is accepted once: its time step must be later than the last accepted one, moved by one
/// conditional UPDATE, so two requests with one code cannot both pass. Recovery codes are stored hashed and spent by
/// one conditional UPDATE each.
/// </summary>
public sealed class Factors(AppDbContext db, IDataProtectionProvider protection, TimeProvider time)
{
    public const int RecoveryCodeCount = 10;
    private const string Base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";
    private readonly IDataProtector _protector = protection.CreateProtector("SessionGate.Mfa.Totp");

    public async Task<FactorSummary> SummaryAsync(Guid userId, CancellationToken ct)
    {
        var row = await db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => new
        {
            Totp = db.TotpFactors.Any(t => t.UserId == u.Id && t.ConfirmedAt != null),
            Passkeys = db.Passkeys.Count(p => p.UserId == u.Id),
            Codes = db.RecoveryCodes.Count(r => r.UserId == u.Id && r.UsedAt == null),
        }).FirstOrDefaultAsync(ct);
        return row is null ? new FactorSummary(false, 0, 0) : new FactorSummary(row.Totp, row.Passkeys, row.Codes);
    }

    /// <summary>Whether the user has a second factor (an active TOTP or a passkey): one query.</summary>
    public Task<bool> HasAnyAsync(Guid userId, CancellationToken ct) =>
        db.Users.Where(u => u.Id == userId)
            .AnyAsync(u => db.TotpFactors.Any(t => t.UserId == u.Id && t.ConfirmedAt != null) || db.Passkeys.Any(p => p.UserId == u.Id), ct);

    // ---- TOTP -------------------------------------------------------------------------------------------------------

    /// <summary>Starts (or restarts) an enrolment: a new secret, inactive until confirmed. Null when one is already active.</summary>
    public async Task<(string Secret, string Uri)?> StartTotpAsync(Guid userId, string account, string issuer, CancellationToken ct)
    {
        var existing = await db.TotpFactors.FirstOrDefaultAsync(t => t.UserId == userId, ct);
        if (existing?.ConfirmedAt is not null) return null;
        var secret = Base32Encoding.ToString(KeyGeneration.GenerateRandomKey(20));
        if (existing is null) db.TotpFactors.Add(existing = new TotpFactor { UserId = userId, ProtectedSecret = "" });
        existing.ProtectedSecret = _protector.Protect(secret);
        existing.CreatedAt = time.GetUtcNow();
        existing.LastTimeStep = 0;
        await db.SaveChangesAsync(ct);
        return (secret, UriOf(secret, account, issuer));
    }

    public static string UriOf(string secret, string account, string issuer) =>
        new OtpUri(OtpType.Totp, secret, account, issuer, OtpHashMode.Sha1, 6, 30, 0).ToUri().AbsoluteUri;

    /// <summary>The secret of an enrolment still to be confirmed (for its QR code); null when there is none.</summary>
    public async Task<string?> PendingTotpSecretAsync(Guid userId, CancellationToken ct)
    {
        var row = await db.TotpFactors.AsNoTracking().FirstOrDefaultAsync(t => t.UserId == userId && t.ConfirmedAt == null, ct);
        return row is null ? null : _protector.Unprotect(row.ProtectedSecret);
    }

    /// <summary>Confirms a pending enrolment with a code from the app; false for a wrong code or no pending enrolment.</summary>
    public async Task<bool> ConfirmTotpAsync(Guid userId, string code, CancellationToken ct)
    {
        var row = await db.TotpFactors.AsNoTracking().FirstOrDefaultAsync(t => t.UserId == userId && t.ConfirmedAt == null, ct);
        if (row is null || !Verify(row, code, out var step)) return false;
        var now = time.GetUtcNow();
        return await db.TotpFactors.Where(t => t.UserId == userId && t.ConfirmedAt == null && t.ProtectedSecret == row.ProtectedSecret)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.ConfirmedAt, now).SetProperty(t => t.LastTimeStep, step), ct) == 1;
    }

    /// <summary>Checks a code of the active TOTP and spends its time step: true once per step, and never for an older one.</summary>
    public async Task<bool> VerifyTotpAsync(Guid userId, string code, CancellationToken ct)
    {
        var row = await db.TotpFactors.AsNoTracking().FirstOrDefaultAsync(t => t.UserId == userId && t.ConfirmedAt != null, ct);
        if (row is null || !Verify(row, code, out var step)) return false;
        return await db.TotpFactors.Where(t => t.UserId == userId && t.ConfirmedAt != null && t.LastTimeStep < step)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.LastTimeStep, step), ct) == 1;
    }

    private bool Verify(TotpFactor row, string code, out long step)
    {
        var totp = new Totp(Base32Encoding.ToBytes(_protector.Unprotect(row.ProtectedSecret)));
        // One step either side (RFC 6238's network delay); Otp.NET says which step matched, so a step is spent once.
        return totp.VerifyTotp(time.GetUtcNow().UtcDateTime, code, out step, VerificationWindow.RfcSpecifiedNetworkDelay) && step > row.LastTimeStep;
    }

    public async Task<bool> RemoveTotpAsync(Guid userId, CancellationToken ct) =>
        await db.TotpFactors.Where(t => t.UserId == userId).ExecuteDeleteAsync(ct) > 0;

    public static bool IsCodeShaped(string? code) => code is { Length: 6 } && code.All(char.IsAsciiDigit);

    // ---- Recovery codes ---------------------------------------------------------------------------------------------

    /// <summary>A new set of codes; the old set stops working. The codes are returned once and stored only hashed.</summary>
    public async Task<string[]> NewRecoveryCodesAsync(Guid userId, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var codes = new string[RecoveryCodeCount];
        await db.RecoveryCodes.Where(r => r.UserId == userId).ExecuteDeleteAsync(ct);
        for (var i = 0; i < codes.Length; i++)
        {
            var raw = RandomNumberGenerator.GetString(Base32Alphabet, 16); // 80 bits
            codes[i] = $"{raw[..4]}-{raw[4..8]}-{raw[8..12]}-{raw[12..]}";
            db.RecoveryCodes.Add(new RecoveryCode { UserId = userId, Hash = HashCode(userId, raw), CreatedAt = now });
        }
        await db.SaveChangesAsync(ct);
        return codes;
    }

    public async Task RemoveRecoveryCodesAsync(Guid userId, CancellationToken ct) =>
        await db.RecoveryCodes.Where(r => r.UserId == userId).ExecuteDeleteAsync(ct);

    /// <summary>The code without separators, lower-case; null if it cannot be a recovery code.</summary>
    public static string? NormalizeRecoveryCode(string? code)
    {
        if (code is null || code.Length > 64) return null;
        var normalized = new string(code.Where(c => c != '-' && c != ' ').Select(char.ToLowerInvariant).ToArray());
        return normalized.Length == 16 && normalized.All(c => Base32Alphabet.Contains(c)) ? normalized : null;
    }

    /// <summary>Spends a recovery code: true exactly once per code.</summary>
    public async Task<bool> UseRecoveryCodeAsync(Guid userId, string normalized, CancellationToken ct)
    {
        var hash = HashCode(userId, normalized);
        var now = time.GetUtcNow();
        var id = await db.RecoveryCodes.AsNoTracking().Where(r => r.UserId == userId && r.Hash == hash && r.UsedAt == null)
            .Select(r => (Guid?)r.Id).FirstOrDefaultAsync(ct);
        return id is not null && await db.RecoveryCodes.Where(r => r.Id == id && r.UsedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.UsedAt, now), ct) == 1;
    }

    private static byte[] HashCode(Guid userId, string normalized)
    {
        var input = new byte[16 + Encoding.ASCII.GetByteCount(normalized)];
        userId.TryWriteBytes(input);
        Encoding.ASCII.GetBytes(normalized, input.AsSpan(16));
        return SHA256.HashData(input);
    }
}
