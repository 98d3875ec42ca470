using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>
/// Checks a login: failure limits (shared by all instances through Redis), the password (the same work and answer
/// for unknown tenants, unknown users and wrong passwords), the ban, then opens the session.
/// <para>
/// The limits cannot be turned against the owner: wrong passwords lock an account only for the address they came
/// from (<see cref="LoginLimitOptions.MaxFailuresPerAccountAndAddress"/>); account-wide there is a much higher
/// ceiling against guessing from many addresses, and each address has its own cap across accounts. A login that
/// fails because a dependency is down, or because hashing is saturated, counts against no one.
/// </para>
/// </summary>
public sealed partial class LoginService(
    AppDbContext db,
    PasswordPolicy passwords,
    SessionService sessions,
    RedisStore redis,
    AuditLog audit,
    TimeProvider time,
    IOptions<LoginLimitOptions> limits,
    ILogger<LoginService> logger)
{
    public async Task<LoginOutcome> LoginAsync(LoginRequest request, string? ip, string limitAddress, string? userAgent, CancellationToken ct)
    {
        var device = (request.DeviceType ?? "web").Trim().ToLowerInvariant();
        var invalid = Validate(request, device);
        if (invalid is not null) return new LoginOutcome(LoginResult.Invalid, Detail: invalid);

        var tenantSlug = request.Tenant!.Trim().ToLowerInvariant();
        var normalized = request.Username!.Trim().ToLowerInvariant();
        var limit = limits.Value;
        var now = time.GetUtcNow();

        // Reserve the attempt before the (slow) password check, atomically: parallel guesses cannot all slip
        // under a limit. Only a wrong password keeps its reservation.
        var reservation = await redis.ReserveLoginAsync(Account(tenantSlug, normalized), limitAddress, limit.Window, limit.MaxFailuresPerAccountAndAddress, now);
        if (await RefuseIfLimitedAsync(reservation, tenantSlug, normalized, ip, ct) is { } limited) return limited;

        var guessed = false;
        var rightPassword = false;
        try
        {
            var tenant = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Slug == tenantSlug, ct);
            var user = tenant is null ? null
                : await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.TenantId == tenant.Id && u.NormalizedUsername == normalized, ct);
            var verified = await passwords.VerifyAsync(user, user?.PasswordHash ?? "", request.Password!, ct);
            if (verified == PasswordVerificationResult.Failed || user is null || tenant is null)
            {
                guessed = true;
                return await FailedAsync(user?.Id, tenant?.Id, tenantSlug, device, ip, ct);
            }

            rightPassword = true;
            var hash = user.PasswordHash;
            if (verified == PasswordVerificationResult.SuccessRehashNeeded)
            {
                // Only over the hash just verified: a password reset that landed meanwhile must not be undone (the
                // login then fails below, because the hash it verified is no longer the user's).
                var newHash = await passwords.HashAsync(user, request.Password!, ct);
                var userId = user.Id;
                if (await db.Users.Where(u => u.Id == userId && u.PasswordHash == hash)
                        .ExecuteUpdateAsync(u => u.SetProperty(x => x.PasswordHash, newHash), ct) == 1)
                    hash = newHash;
            }

            if (user.BannedUntil > now) return await BannedAsync(user, tenant, ip, ct);
            var created = await sessions.CreateAsync(new SessionService.LoginRequestInfo(user.Id, tenant, device, ip, userAgent, hash), ct);
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
            return new LoginOutcome(LoginResult.Success, created.Credential);
        }
        finally
        {
            // A right password, an outage, a saturated hasher or a cancelled request is no failed guess; a right
            // password also clears this address's failures on the account.
            if (!guessed) await ReleaseQuietlyAsync(reservation, rightPassword);
        }
    }

    /// <summary>The limit key of an account (tenant and normalised username; it need not exist).</summary>
    public static string Account(string tenantSlug, string normalizedUsername) => $"{tenantSlug}\n{normalizedUsername}";

    private async Task<LoginOutcome?> RefuseIfLimitedAsync(LoginReservation r, string tenantSlug, string username, string? ip, CancellationToken ct)
    {
        var limit = limits.Value;
        var scope = r.PairFailures > limit.MaxFailuresPerAccountAndAddress ? "account-address"
            : r.AccountFailures > limit.MaxFailuresPerAccount ? "account"
            : r.AddressFailures > limit.MaxFailuresPerIp ? "address"
            : null;
        if (scope is null) return null;
        await redis.ReleaseLoginAsync(r, succeeded: false);
        // The first refused attempt of a lockout is its start: audit it (and log it) once.
        var started = scope switch
        {
            "account-address" => r.PairFailures == limit.MaxFailuresPerAccountAndAddress + 1,
            "account" => r.AccountFailures == limit.MaxFailuresPerAccount + 1,
            _ => r.AddressFailures == limit.MaxFailuresPerIp + 1,
        };
        if (started)
        {
            LogLockout(logger, scope, LogText.Safe(tenantSlug));
            var target = await db.Users.AsNoTracking().Where(u => u.NormalizedUsername == username && u.Tenant!.Slug == tenantSlug)
                .Select(u => new { u.Id, u.TenantId }).FirstOrDefaultAsync(ct);
            if (target is not null && scope != "address") Events.EventLog.UserLocked(db, target.Id, target.TenantId, scope, time.GetUtcNow());
            await audit.WriteAsync(AuditTypes.LoginLocked, null, target?.Id, target?.TenantId, ip, new { scope }, ct);
        }
        var retry = scope switch
        {
            "account-address" => r.PairResetsIn,
            "account" => r.AccountResetsIn,
            _ => await redis.ResetsInAsync(r.AddressKey) ?? limit.Window,
        };
        return new LoginOutcome(LoginResult.TooManyAttempts, RetryAfter: retry > TimeSpan.Zero ? retry : limit.Window);
    }

    private async Task ReleaseQuietlyAsync(LoginReservation reservation, bool succeeded)
    {
        try
        {
            await redis.ReleaseLoginAsync(reservation, succeeded);
        }
        catch (Exception e) when (DependencyHealth.IsRedisFailure(e))
        {
            // Redis is down: the reservation expires with its window.
        }
    }

    private async Task<LoginOutcome> FailedAsync(Guid? userId, Guid? tenantId, string tenantSlug, string device, string? ip, CancellationToken ct)
    {
        await audit.WriteAsync(AuditTypes.LoginFailed, null, userId, tenantId, ip, new { device_type = device }, ct);
        LogLoginFailed(logger, LogText.Safe(tenantSlug));
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Login failed in tenant {Tenant}")]
    private static partial void LogLoginFailed(ILogger logger, string tenant);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Login lockout ({Scope}) started in tenant {Tenant}")]
    private static partial void LogLockout(ILogger logger, string scope, string tenant);
}
