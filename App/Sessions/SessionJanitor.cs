using Microsoft.EntityFrameworkCore;
using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>
/// Keeps the live-session index lean: sessions that ran out (idle or absolute) without being revoked are
/// marked <c>expired</c>, and revocation rows and spent refresh tokens that can no longer matter are deleted.
/// Listings and the hot path already ignore expired sessions; this only bounds the tables. Every statement is
/// idempotent, so any number of instances may run it.
/// </summary>
public sealed partial class SessionJanitor(IServiceScopeFactory scopes, TimeProvider time, ILogger<SessionJanitor> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(5);
    private const int Batch = 5_000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await RunOnceAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFailed(logger, e.GetType().Name);
            }
        }
    }

    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = time.GetUtcNow();
        var expired = await db.Database.ExecuteSqlAsync($"""
            UPDATE sessions SET "RevokedAt" = {now}, "RevokeReason" = {RevokeReasons.Expired}
            WHERE "Id" IN (SELECT "Id" FROM sessions
                           WHERE "RevokedAt" IS NULL AND ("IdleExpiresAt" <= {now} OR "AbsoluteExpiresAt" <= {now})
                           LIMIT {Batch})
            """, ct);
        await db.RevokedTokens.Where(r => r.ExpiresAt <= now).ExecuteDeleteAsync(ct);
        // Spent refresh tokens stay as long as their family (session) could live, so a reuse is caught for that long.
        await db.RefreshTokens.Where(r => r.ExpiresAt <= now).ExecuteDeleteAsync(ct);
        if (expired > 0) LogExpired(logger, expired);
        return expired;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Marked {Count} sessions expired")]
    private static partial void LogExpired(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session clean-up failed ({ExceptionType}); will retry")]
    private static partial void LogFailed(ILogger logger, string exceptionType);
}
