using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>
/// Keeps the session tables bounded. Sessions that ran out (idle or absolute) without being revoked are marked
/// <c>expired</c>, which takes them out of the live-session indexes; sessions whose absolute limit passed more than
/// <see cref="SessionLifetimeOptions.RetainEndedFor"/> ago are deleted with their refresh tokens (no credential of
/// theirs can be accepted by then, and the audit log keeps their history); revocation rows and spent refresh tokens
/// that can no longer matter are deleted. Each step works in batches until it is done or the run's time is up.
/// Every statement is idempotent, so any number of instances may run it.
/// </summary>
public sealed partial class SessionJanitor(
    IServiceScopeFactory scopes, TimeProvider time, IOptions<SessionLifetimeOptions> options, ILogger<SessionJanitor> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(20);
    private const int Batch = 5_000;

    /// <summary>What one run did.</summary>
    public readonly record struct Run(int Expired, int Deleted);

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

    public async Task<Run> RunOnceAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var started = time.GetTimestamp();
        var now = time.GetUtcNow();
        // By index, and each session once, with its session.ended event (Events/SessionExpiry).
        var expired = await RepeatAsync(started, () => Events.SessionExpiry.MarkExpiredAsync(db, now, Batch, ct));

        // Session ids are version-7 UUIDs (creation time first, and PostgreSQL orders uuids bytewise): ids below the
        // first possible one of the creation time that would have run out long enough ago are read by primary key,
        // not by scanning the table. AbsoluteExpiresAt decides; the bound only narrows the search.
        var endedBefore = now - options.Value.RetainEndedFor;
        var createdBefore = LowestVersion7(endedBefore - options.Value.AbsoluteTimeout);
        var deleted = await RepeatAsync(started, () => db.Database.ExecuteSqlAsync($"""
            DELETE FROM sessions
            WHERE "Id" IN (SELECT "Id" FROM sessions WHERE "Id" < {createdBefore} AND "AbsoluteExpiresAt" < {endedBefore} LIMIT {Batch})
            """, ct));

        await db.RevokedTokens.Where(r => r.ExpiresAt <= now).ExecuteDeleteAsync(ct);
        // Spent refresh tokens stay as long as their family (session) could live, so a reuse is caught for that long.
        await db.RefreshTokens.Where(r => r.ExpiresAt <= now).ExecuteDeleteAsync(ct);
        if (expired > 0 || deleted > 0) LogCleaned(logger, expired, deleted);
        return new Run(expired, deleted);
    }

    private async Task<int> RepeatAsync(long started, Func<Task<int>> batch)
    {
        var total = 0;
        int n;
        do
        {
            n = await batch();
            total += n;
        }
        while (n == Batch && time.GetElapsedTime(started) < Budget);
        return total;
    }

    /// <summary>The smallest version-7 UUID of <paramref name="at"/>'s millisecond.</summary>
    internal static Guid LowestVersion7(DateTimeOffset at)
    {
        var ms = Math.Max(0, at.ToUnixTimeMilliseconds());
        return Guid.Parse($"{ms >> 16:x8}-{ms & 0xFFFF:x4}-7000-8000-000000000000");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Marked {Expired} sessions expired and deleted {Deleted} ended long ago")]
    private static partial void LogCleaned(ILogger logger, int expired, int deleted);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Session clean-up failed ({ExceptionType}); will retry")]
    private static partial void LogFailed(ILogger logger, string exceptionType);
}
