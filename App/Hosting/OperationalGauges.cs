using System.Diagnostics.Metrics;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Observability;
using SessionGate.Outbox;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.Hosting;

/// <summary>
/// Gauges read from state the app already keeps: sessions online (counted in PostgreSQL every 15 s, or less often when
/// counting is slow; never per scrape), the outbox backlog and its age, the invalidations received, the L1's size and
/// the signing key's age.
/// </summary>
public sealed partial class OperationalGauges(
    SessionGateMetrics metrics,
    IDbContextFactory<AppDbContext> dbs,
    OutboxRelay relay,
    RedisProof proof,
    InvalidationBus bus,
    LocalCache cache,
    KeyRing keys,
    Auth.PasswordHashing hashing,
    TimeProvider time,
    ILogger<OperationalGauges> logger) : BackgroundService
{
    private static readonly TimeSpan CountEvery = TimeSpan.FromSeconds(15);

    // The count reads every live row (the expiry columns are in no index): at a million sessions it took 0.5 s of
    // PostgreSQL per instance every 15 s (bench/scale.sh). Waiting this many times as long as the count took keeps it
    // to 1% of one backend per instance, whatever the number of sessions.
    private const int CountCostFactor = 100;
    private long _online = -1;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var meter = metrics.Meter;
        meter.CreateObservableGauge<long>("sessiongate.sessions.online", () => Interlocked.Read(ref _online) is var n and >= 0 ? [new Measurement<long>(n)] : [],
            "{session}", "Live sessions, from the live-session index (refreshed every 15 s).");
        meter.CreateObservableGauge("sessiongate.outbox.backlog", () => relay.Backlog.Count, "{row}", "Committed changes Redis has not proven it holds (held against its answers meanwhile).");
        meter.CreateObservableGauge("sessiongate.outbox.age", () => relay.Backlog.OldestAge.TotalSeconds, "s", "Age of the oldest change Redis has not proven it holds.");
        meter.CreateObservableGauge("sessiongate.outbox.set_aside", () => proof.SetAside, "{row}", "Rows no attempt could apply; their users are decided by PostgreSQL.");
        meter.CreateObservableCounter("sessiongate.outbox.reapplied", () => relay.Reapplied, "{row}", "Rows this instance applied again as the relay's writer before moving the marks.");
        meter.CreateObservableGauge("sessiongate.redis.proven", () => proof.Trust == RedisTrust.Proven ? 1 : 0, "{bool}",
            "1 while every Redis master has proven (by its mark) how current it is; 0 while PostgreSQL decides.");
        meter.CreateObservableCounter("sessiongate.redis.generations_moved", () => proof.GenerationsMoved, "{generation}",
            "Key generations this instance moved to because a Redis master came back older than the outbox reaches.");
        meter.CreateObservableCounter("sessiongate.invalidations.received", () => bus.Received, "{message}", "Invalidation lines received over pub/sub.");
        meter.CreateObservableGauge("sessiongate.cache.entries", () => cache.Counts().Select(c => new Measurement<int>(c.Value, new KeyValuePair<string, object?>("cache", c.Key))),
            "{entry}", "L1 entries per cache.");
        // Counted by the L1 itself (a plain increment per lookup) and read here at scrape time.
        meter.CreateObservableCounter("sessiongate.cache.lookups", () => cache.Lookups().SelectMany(l => new[]
            {
                new Measurement<long>(l.Hits, new KeyValuePair<string, object?>("cache", l.Cache), new KeyValuePair<string, object?>("result", "hit")),
                new Measurement<long>(l.Misses, new KeyValuePair<string, object?>("cache", l.Cache), new KeyValuePair<string, object?>("result", "miss")),
            }), "{lookup}", "L1 lookups by cache and result (hit, miss).");
        meter.CreateObservableGauge("sessiongate.cache.trusted", () => cache.Trusted ? 1 : 0, "{bool}", "1 while the invalidation subscription is proven and the L1 serves.");
        meter.CreateObservableGauge<double>("sessiongate.signing_key.age", () =>
            keys.Current is { } set && set.SigningKeyCreatedAt > DateTimeOffset.MinValue ? [new Measurement<double>((time.GetUtcNow() - set.SigningKeyCreatedAt).TotalSeconds)] : [],
            "s", "Age of the key that signs new tokens.");
        meter.CreateObservableGauge("sessiongate.password_hashing.queued", () => hashing.Queued, "{hash}", "Password hashes waiting for a worker.");

        while (true)
        {
            var wait = CountEvery;
            try
            {
                var started = time.GetTimestamp();
                await using var db = await dbs.CreateDbContextAsync(stoppingToken);
                var now = time.GetUtcNow();
                Interlocked.Exchange(ref _online, await db.Sessions.Where(SessionReader.RowIsLive(now)).LongCountAsync(stoppingToken));
                var took = time.GetElapsedTime(started);
                if (took * CountCostFactor > wait) wait = took * CountCostFactor;
            }
            catch (Exception e) when (DependencyHealth.IsTransient(e))
            {
                LogCountFailed(logger, e.GetType().Name);
            }
            await Task.Delay(wait, time, stoppingToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Counting online sessions failed ({ExceptionType})")]
    private static partial void LogCountFailed(ILogger logger, string exceptionType);
}
