using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tokens;
using StackExchange.Redis;

namespace SessionGate.Revocation;

/// <summary>
/// Runs on every instance. It re-applies outbox rows that were committed but never confirmed in Redis (the
/// request's own write failed), until Redis accepts them; rows are claimed with <c>FOR UPDATE SKIP LOCKED</c>, so
/// instances share the work. When Redis may have lost acknowledged writes (a reconnect, a failover, a restart) it
/// replays every row of <see cref="RevocationOptions.ReplayWindow"/>, so a tombstone lost on the way to a promoted
/// replica comes back. It also keeps the table bounded.
/// </summary>
public sealed partial class OutboxRelay : BackgroundService
{
    private static readonly TimeSpan CleanUpEvery = TimeSpan.FromMinutes(1);
    private const int Batch = 200;

    private readonly RevocationPipeline _pipeline;
    private readonly IDbContextFactory<AppDbContext> _dbs;
    private readonly RevocationOptions _options;
    private readonly TimeSpan _abandonAfter;
    private readonly TimeProvider _time;
    private readonly ILogger<OutboxRelay> _logger;
    private readonly DependencyHealth _health;
    private volatile bool _replayRequested = true;
    private DateTimeOffset _cleanedAt;
    private bool _failing;

    public OutboxRelay(RevocationPipeline pipeline, IDbContextFactory<AppDbContext> dbs, IConnectionMultiplexer redis,
        IOptions<RevocationOptions> options, IOptions<SessionLifetimeOptions> sessions, IOptions<JwtOptions> jwt,
        TimeProvider time, ILogger<OutboxRelay> logger, DependencyHealth health)
    {
        _health = health;
        _pipeline = pipeline;
        _dbs = dbs;
        _options = options.Value;
        _time = time;
        _logger = logger;
        // Past this no credential a row concerns can be alive, so an unapplied row is moot.
        _abandonAfter = sessions.Value.AbsoluteTimeout + jwt.Value.AccessTokenLifetime + TimeSpan.FromHours(1);
        redis.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType != ConnectionType.Subscription) RequestReplay();
        };
        redis.ConfigurationChanged += (_, _) => RequestReplay();
        redis.HashSlotMoved += (_, _) => RequestReplay();
    }

    /// <summary>Asks for every recent row to be applied again (Redis may have lost writes it acknowledged).</summary>
    public void RequestReplay() => _replayRequested = true;

    /// <summary>Rows committed but not yet confirmed in Redis, and the age of the oldest (metrics).</summary>
    public (long Count, TimeSpan OldestAge) Backlog { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.RelayInterval, _time);
        do
        {
            try
            {
                await RunOnceAsync(stoppingToken);
                // Every tick queries PostgreSQL, and requests never report its success: this is where an outage
                // that requests met is seen to end (logged once, with its count), so the next one is logged too.
                _health.Succeeded(Dependency.Postgres);
                if (_failing) LogRecovered(_logger);
                _failing = false;
            }
            catch (Exception e) when (RevocationPipeline.IsTransient(e))
            {
                if (!_failing) LogFailing(_logger, e.GetType().Name);
                _failing = true;
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task RunOnceAsync(CancellationToken ct)
    {
        if (_replayRequested)
        {
            _replayRequested = false;
            if (!await ReplayAsync(ct)) _replayRequested = true;
        }
        // A backlog drains at the speed Redis takes it, not one batch per tick: batches (each its own transaction)
        // follow one another while every row of the last one was applied, for at most a tick's worth of time.
        var started = _time.GetTimestamp();
        while (await RelayBatchAsync(ct) && _time.GetElapsedTime(started) < _options.RelayInterval) { }
        await MeasureBacklogAsync(ct);
        if (_time.GetUtcNow() - _cleanedAt >= CleanUpEvery) await CleanUpAsync(ct);
    }

    /// <summary>Applies one batch of pending rows; true if it was full and all of it applied (more may be waiting).</summary>
    private async Task<bool> RelayBatchAsync(CancellationToken ct)
    {
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var now = _time.GetUtcNow();
        var cutoff = now - _options.RelayGrace;
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var rows = await db.Outbox
            .FromSql($"""SELECT * FROM outbox WHERE "AppliedAt" IS NULL AND "CreatedAt" < {cutoff} ORDER BY "Id" LIMIT {Batch} FOR UPDATE SKIP LOCKED""")
            .ToListAsync(ct);
        var applied = 0;
        foreach (var row in rows)
        {
            if (await _pipeline.TryApplyAsync(row, ct))
            {
                row.AppliedAt = now;
                applied++;
                continue;
            }
            row.Attempts++;
            break; // Redis refuses: keep the order, try again next tick.
        }
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        return rows.Count == Batch && applied == rows.Count;
    }

    private async Task MeasureBacklogAsync(CancellationToken ct)
    {
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var now = _time.GetUtcNow();
        var pending = db.Outbox.AsNoTracking().Where(o => o.AppliedAt == null);
        var oldest = await pending.MinAsync(o => (DateTimeOffset?)o.CreatedAt, ct);
        Backlog = oldest is null ? (0, TimeSpan.Zero) : (await pending.LongCountAsync(ct), now - oldest.Value);
    }

    private async Task<bool> ReplayAsync(CancellationToken ct)
    {
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var since = _time.GetUtcNow() - _options.ReplayWindow;
        long after = 0;
        var replayed = 0;
        while (true)
        {
            var rows = await db.Outbox.AsNoTracking().Where(o => o.CreatedAt > since && o.Id > after).OrderBy(o => o.Id).Take(500).ToListAsync(ct);
            foreach (var row in rows)
            {
                if (!await _pipeline.TryApplyAsync(row, ct)) return false;
                replayed++;
            }
            if (rows.Count < 500) break;
            after = rows[^1].Id;
        }
        if (replayed > 0) LogReplayed(_logger, replayed);
        return true;
    }

    private async Task CleanUpAsync(CancellationToken ct)
    {
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var now = _time.GetUtcNow();
        var retention = _options.OutboxRetention > _options.ReplayWindow ? _options.OutboxRetention : _options.ReplayWindow;
        var appliedBefore = now - retention;
        var abandonedBefore = now - _abandonAfter;
        await db.Outbox.Where(o => (o.AppliedAt != null && o.CreatedAt < appliedBefore) || o.CreatedAt < abandonedBefore).ExecuteDeleteAsync(ct);
        _cleanedAt = now;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replayed {Count} recent outbox rows into Redis")]
    private static partial void LogReplayed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Outbox relay cannot reach PostgreSQL or Redis ({ExceptionType}); retrying")]
    private static partial void LogFailing(ILogger logger, string exceptionType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Outbox relay recovered")]
    private static partial void LogRecovered(ILogger logger);
}
