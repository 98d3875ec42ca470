using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>
/// Checks a login: failure limits (shared by all instances through Redis), the password (the same work and
/// answer for unknown tenants, unknown users and wrong passwords), the ban, then opens the session.
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
    public async Task<LoginOutcome> LoginAsync(LoginRequest request, string? ip, string? userAgent, CancellationToken ct)
    {
        var reserved = new List<StackExchange.Redis.RedisKey>(2);
        try
        {
            return await LoginCoreAsync(request, ip, userAgent, reserved, ct);
        }
        catch (Exception e) when (DependencyHealth.IsPostgresFailure(e) || DependencyHealth.IsRedisFailure(e))
        {
            // A login that failed because a dependency is down is no failed guess: give the reservations back.
            foreach (var key in reserved)
            {
                try
                {
                    await redis.UncountAttemptAsync(key);
                }
                catch (Exception r) when (DependencyHealth.IsRedisFailure(r))
                {
                }
            }
            throw;
        }
    }

    private async Task<LoginOutcome> LoginCoreAsync(LoginRequest request, string? ip, string? userAgent, List<StackExchange.Redis.RedisKey> reserved, CancellationToken ct)
    {
        var device = (request.DeviceType ?? "web").Trim().ToLowerInvariant();
        var invalid = Validate(request, device);
        if (invalid is not null) return new LoginOutcome(LoginResult.Invalid, Detail: invalid);

        var tenantSlug = request.Tenant!.Trim().ToLowerInvariant();
        var normalized = request.Username!.Trim().ToLowerInvariant();
        var accountKey = redis.FailureKey("acct", $"{tenantSlug}\n{normalized}");
        var ipKey = redis.FailureKey("ip", ip ?? "unknown");
        var limit = limits.Value;

        // Reserve the attempt before the (slow) password check, atomically: parallel guesses cannot all slip
        // under the limit. Only failures keep their reservation.
        var accountCount = await redis.CountAttemptAsync(accountKey, limit.Window);
        reserved.Add(accountKey);
        var ipCount = await redis.CountAttemptAsync(ipKey, limit.Window);
        reserved.Add(ipKey);
        if (accountCount > limit.MaxFailuresPerAccount || ipCount > limit.MaxFailuresPerIp)
        {
            reserved.Clear();
            await redis.UncountAttemptAsync(accountKey);
            await redis.UncountAttemptAsync(ipKey);
            var retry = Max(accountCount > limit.MaxFailuresPerAccount ? await redis.FailuresResetInAsync(accountKey) : null,
                ipCount > limit.MaxFailuresPerIp ? await redis.FailuresResetInAsync(ipKey) : null);
            return new LoginOutcome(LoginResult.TooManyAttempts, RetryAfter: retry ?? limit.Window);
        }

        var tenant = await db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Slug == tenantSlug, ct);
        var user = tenant is null ? null
            : await db.Users.FirstOrDefaultAsync(u => u.TenantId == tenant.Id && u.NormalizedUsername == normalized, ct);
        var verified = passwords.Verify(user, request.Password!);
        if (verified == PasswordVerificationResult.Failed || user is null || tenant is null)
            return await FailedAsync(user?.Id, tenant?.Id, tenantSlug, device, ip, ct);

        // A right password is no failed guess: give the reservations back.
        reserved.Clear();
        await redis.ResetFailuresAsync(accountKey);
        await redis.UncountAttemptAsync(ipKey);
        if (verified == PasswordVerificationResult.SuccessRehashNeeded)
        {
            // Only over the hash just verified: a password reset that landed meanwhile must not be undone (the
            // login then fails below, because the hash it verified is no longer the user's).
            var (oldHash, newHash) = (user.PasswordHash, passwords.Hash(user, request.Password!));
            var userId = user.Id;
            if (await db.Users.Where(u => u.Id == userId && u.PasswordHash == oldHash)
                    .ExecuteUpdateAsync(u => u.SetProperty(x => x.PasswordHash, newHash), ct) == 1)
                user.PasswordHash = newHash;
        }

        var now = time.GetUtcNow();
        if (user.BannedUntil > now) return await BannedAsync(user, tenant, ip, ct);

        var created = await sessions.CreateAsync(new SessionService.LoginRequestInfo(user.Id, tenant, device, ip, userAgent, user.PasswordHash), ct);
        switch (created.Refused)
        {
            case SessionService.Refusal.Banned:
                return await BannedAsync(user, tenant, ip, ct);
            case SessionService.Refusal.CredentialsChanged:
                // The password changed while this login was being checked: it was the old password.
                return await FailedAsync(user.Id, tenant.Id, tenantSlug, device, ip, ct);
            case SessionService.Refusal.LimitReached:
                await audit.WriteAsync(AuditTypes.LoginRejected, null, user.Id, tenant.Id, ip, new { reason = "session-limit-reached" }, ct);
                return new LoginOutcome(LoginResult.SessionLimitReached);
        }
        return new LoginOutcome(LoginResult.Success, created.Credential);
    }

    private async Task<LoginOutcome> FailedAsync(Guid? userId, Guid? tenantId, string tenantSlug, string device, string? ip, CancellationToken ct)
    {
        await audit.WriteAsync(AuditTypes.LoginFailed, null, userId, tenantId, ip, new { device_type = device }, ct);
        LogLoginFailed(logger, tenantSlug);
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

    private static TimeSpan? Max(TimeSpan? a, TimeSpan? b) => a is null ? b : b is null ? a : a > b ? a : b;

    [LoggerMessage(Level = LogLevel.Information, Message = "Login failed in tenant {Tenant}")]
    private static partial void LogLoginFailed(ILogger logger, string tenant);
}

public enum LoginResult { Success, Invalid, InvalidCredentials, TooManyAttempts, Banned, SessionLimitReached }

/// <summary>How a login ended; the endpoint turns it into HTTP.</summary>
public sealed record LoginOutcome(LoginResult Result, IssuedCredential? Credential = null, TimeSpan? RetryAfter = null, string? Detail = null);
