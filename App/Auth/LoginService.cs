using Microsoft.AspNetCore.Identity;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>
/// Checks a login: failure limits (<see cref="LoginThrottle"/>: a known device is counted on its own, a new device per
/// account and address, per address and network, and slowed down account-wide), the password (the same work and
/// answer for unknown tenants, unknown users and wrong passwords), the ban, then opens the session and renews the
/// device token. A login that fails because a dependency is down, or because hashing is saturated, counts against no one.
/// </summary>
public sealed partial class LoginService(
    AppDbContext db,
    PasswordPolicy passwords,
    SessionService sessions,
    LoginThrottle throttle,
    DeviceTokens devices,
    AuditLog audit,
    TimeProvider time,
    ILoginSecondFactor secondFactor,
    ILogger<LoginService> logger)
{
    public async Task<LoginOutcome> LoginAsync(LoginRequest request, ClientNetwork network, string? presentedDevice, string? userAgent, CancellationToken ct)
    {
        var device = (request.DeviceType ?? "web").Trim().ToLowerInvariant();
        var invalid = Validate(request, device);
        if (invalid is not null) return new LoginOutcome(LoginResult.Invalid, Detail: invalid);

        var tenantSlug = request.Tenant!.Trim().ToLowerInvariant();
        var normalized = request.Username!.Trim().ToLowerInvariant();
        var account = Account(tenantSlug, normalized);
        var ip = network.Address;
        // A token of another account, forged or expired, is no token: the login is a new device's.
        var knownDevice = devices.Validate(presentedDevice, account);

        var decision = await throttle.BeginLoginAsync(account, network, knownDevice);
        if (decision.Refused is { } scope) return await RefusedAsync(decision, scope, tenantSlug, normalized, ip, ct);
        var lane = knownDevice is { } known ? HashingLane.KnownDevice(known) : HashingLane.NewDevice(network);

        var guessed = false;
        var rightPassword = false;
        var secondStepPending = false;
        try
        {
            // An account under attack slows new devices down; the owner on one still gets in, later.
            if (decision.Delay > TimeSpan.Zero) await Task.Delay(decision.Delay, time, ct);
            var tenant = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Slug == tenantSlug, ct);
            var user = tenant is null ? null
                : await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.TenantId == tenant.Id && u.NormalizedUsername == normalized, ct);
            var verified = await passwords.VerifyAsync(user, user?.PasswordHash ?? "", request.Password!, lane, ct);
            if (verified == PasswordVerificationResult.Failed || user is null || tenant is null)
            {
                guessed = true;
                await throttle.FailedLoginAsync(knownDevice is not null);
                return await FailedAsync(user?.Id, tenant?.Id, tenantSlug, device, ip, ct);
            }

            rightPassword = true;
            var hash = user.PasswordHash;
            if (verified == PasswordVerificationResult.SuccessRehashNeeded)
            {
                // Only over the hash just verified: a password reset that landed meanwhile must not be undone (the
                // login then fails below, because the hash it verified is no longer the user's).
                var newHash = await passwords.HashAsync(user, request.Password!, lane, ct);
                var userId = user.Id;
                if (await db.Users.Where(u => u.Id == userId && u.PasswordHash == hash)
                        .ExecuteUpdateAsync(u => u.SetProperty(x => x.PasswordHash, newHash), ct) == 1)
                    hash = newHash;
                else if (await db.Users.Where(u => u.Id == userId).Select(u => u.PasswordHash).FirstOrDefaultAsync(ct) is { } current
                         && await passwords.VerifyAsync(user, current, request.Password!, lane, ct) != PasswordVerificationResult.Failed)
                    hash = current; // a concurrent login of the same user rehashed it first: this password is still the one

            }

            if (user.BannedUntil > time.GetUtcNow()) return await BannedAsync(user, tenant, ip, ct);
            // The second factor (Mfa feature): a challenge instead of a session, or the assurance the session gets.
            var second = await secondFactor.CheckAsync(user, tenant, hash, device, ct);
            if (second.Challenge is { } challenge)
            {
                secondStepPending = true;
                return new LoginOutcome(LoginResult.MfaRequired, Mfa: challenge);
            }
            var created = await sessions.CreateAsync(new SessionService.LoginRequestInfo(user.Id, tenant, device, ip, userAgent, hash, second.Assurance), ct);
            switch (created.Refused)
            {
                case SessionService.Refusal.Banned:
                    return await BannedAsync(user, tenant, ip, ct);
                case SessionService.Refusal.CredentialsChanged:
                    // The password changed (or the user went) while this login was being checked: it was the old one.
                    guessed = true;
                    return await FailedAsync(user.Id, tenant.Id, tenantSlug, device, ip, ct);
                case SessionService.Refusal.LimitReached:
                    await audit.WriteAsync(AuditTypes.LoginRejected, null, user.Id, tenant.Id, ip, new { reason = "session-limit-reached" }, ct);
                    return new LoginOutcome(LoginResult.SessionLimitReached);
            }
            // The same device keeps its id (its token is renewed); a new one gets its first token.
            return new LoginOutcome(LoginResult.Success, created.Credential, DeviceToken: devices.Issue(account, knownDevice ?? Guid.NewGuid()));
        }
        finally
        {
            // A right password, an outage, a saturated hasher or a cancelled request is no failed guess; a right
            // password also clears this address's (or this device's) failures on the account, unless a second factor
            // is still to come (wrong codes count here too: a known password must not reset the count of guessed codes).
            if (!guessed) await throttle.ReleaseAsync(decision, rightPassword && !secondStepPending);
        }
    }

    /// <summary>The limit key of an account (tenant and normalised username; it need not exist).</summary>
    public static string Account(string tenantSlug, string normalizedUsername) => $"{tenantSlug}\n{normalizedUsername}";

    private async Task<LoginOutcome> RefusedAsync(LimitDecision decision, string scope, string tenantSlug, string username, string? ip, CancellationToken ct)
    {
        // The first refused attempt of a lockout is its start: audit it (and log it) once.
        if (decision.LockStarted)
        {
            LogLockout(logger, scope, LogText.Safe(tenantSlug));
            var target = await db.Users.AsNoTracking().Where(u => u.NormalizedUsername == username && u.Tenant!.Slug == tenantSlug)
                .Select(u => new { u.Id, u.TenantId }).FirstOrDefaultAsync(ct);
            // Only a lock of this account is its event: an address or a network refused on every account is not.
            if (target is not null && scope is LoginCounters.PairScope or LoginCounters.DeviceScope or LoginCounters.AccountScope)
                Events.EventLog.UserLocked(db, target.Id, target.TenantId, scope, time.GetUtcNow());
            await audit.WriteAsync(AuditTypes.LoginLocked, null, target?.Id, target?.TenantId, ip, new { scope }, ct);
        }
        return new LoginOutcome(LoginResult.TooManyAttempts, RetryAfter: decision.RetryAfter);
    }

    private async Task<LoginOutcome> FailedAsync(Guid? userId, Guid? tenantId, string tenantSlug, string device, string? ip, CancellationToken ct)
    {
        await audit.WriteAsync(AuditTypes.LoginFailed, null, userId, tenantId, ip, new { device_type = device }, ct);
        return new LoginOutcome(LoginResult.InvalidCredentials);
    }

    private async Task<LoginOutcome> BannedAsync(User user, Tenant tenant, string? ip, CancellationToken ct)
    {
        await audit.WriteAsync(AuditTypes.LoginRejected, null, user.Id, tenant.Id, ip, new { reason = "banned" }, ct);
        return new LoginOutcome(LoginResult.Banned);
    }

    private static string? Validate(LoginRequest r, string device)
    {
        if (string.IsNullOrWhiteSpace(r.Tenant)) return "tenant is required.";
        if (string.IsNullOrWhiteSpace(r.Username)) return "username is required.";
        if (string.IsNullOrEmpty(r.Password)) return "password is required.";
        if (r.Tenant.Length > Limits.MaxName) return "tenant is too long.";
        if (r.Username.Length > Limits.MaxName) return "username is too long.";
        if (r.Password.Length > Limits.MaxPassword) return "password is too long.";
        if (!DeviceTypes.All.Contains(device)) return "device_type must be one of web, mobile, desktop, api.";
        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Login lockout ({Scope}) started in tenant {Tenant}")]
    private static partial void LogLockout(ILogger logger, string scope, string tenant);
}
