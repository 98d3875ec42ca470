using System.Collections.Concurrent;
using SessionGate.Caching;
using SessionGate.Data;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>
/// Coalesces sliding-expiry writes per instance: every <see cref="SessionLifetimeOptions.SlidingFlushInterval"/> one
/// PostgreSQL statement carries every due session, so the write rate follows the flush rate, not the number of
/// active sessions. PostgreSQL may lag the hot path by at most one flush; a rebuild after Redis lost an entry then
/// sees an idle expiry at most that much older, which the idle timeout dwarfs. A flush that fails (PostgreSQL down)
/// is kept and retried; it never fails a request. A session that PostgreSQL says has ended meanwhile gets its
/// tombstone, so a revocation whose own Redis write was lost is caught here too.
/// </summary>
public sealed class SlidingWriter(IDbContextFactory<AppDbContext> dbs, RedisStore redis, InvalidationBus bus, IOptions<SessionLifetimeOptions> options,
    TimeProvider time, ILogger<SlidingWriter> logger) : BackgroundService
{
    private sealed record Slide(SessionSnapshot Snapshot, RedisKey? Key);

    private readonly ConcurrentDictionary<Guid, Slide> _due = new();
    private readonly SessionLifetimeOptions _options = options.Value;
    private readonly OutageLog _outage = new(logger, "Sliding writes", "deferred");

    /// <summary>Statements written so far (for the benchmark and metrics).</summary>
    public long Flushes => Interlocked.Read(ref _flushes);
    private long _flushes;

    public int Pending => _due.Count;

    /// <summary>Queues a slid session; <paramref name="key"/> is its Redis entry (null when Redis is not in use).</summary>
    public void Enqueue(SessionSnapshot slid, RedisKey? key) =>
        _due.AddOrUpdate(slid.SessionId, new Slide(slid, key), (_, old) => old.Snapshot.LastTouchedAt >= slid.LastTouchedAt ? old : new Slide(slid, key));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.SlidingFlushInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
            await _outage.RoundAsync(() => FlushAsync(stoppingToken), DependencyHealth.IsTransient, stoppingToken, () => $"{_due.Count} sessions wait for PostgreSQL");
    }

    public async Task FlushAsync(CancellationToken ct)
    {
        if (_due.IsEmpty) return;
        var batch = new List<Slide>();
        foreach (var id in _due.Keys)
        {
            if (_due.TryRemove(id, out var slide)) batch.Add(slide);
            if (batch.Count == 5_000) break;
        }
        if (batch.Count == 0) return;

        List<SlidRow> updated;
        try
        {
            await using var db = await dbs.CreateDbContextAsync(ct);
            var ids = batch.Select(b => b.Snapshot.SessionId).ToArray();
            var seen = batch.Select(b => b.Snapshot.LastTouchedAt).ToArray();
            var idle = batch.Select(b => b.Snapshot.IdleExpiresAt).ToArray();
            // Never backwards: two instances may slide one session with slightly different clocks. Only live sessions
            // (not ended, not of an earlier epoch) move; each comes back with its user's security version now.
            updated = await db.Database.SqlQuery<SlidRow>($"""
                UPDATE sessions AS s
                SET "LastSeenAt" = GREATEST(s."LastSeenAt", v.seen), "IdleExpiresAt" = GREATEST(s."IdleExpiresAt", v.idle)
                FROM unnest({ids}, {seen}, {idle}) AS v(id, seen, idle), users AS u
                WHERE s."Id" = v.id AND s."RevokedAt" IS NULL AND u."Id" = s."UserId" AND u."SessionEpoch" = s."UserEpoch"
                RETURNING s."Id", u."SecurityVersion"
                """).ToListAsync(ct);
            Interlocked.Increment(ref _flushes);
            var live = updated.Select(u => u.Id).ToHashSet();
            var ended = batch.Where(b => !live.Contains(b.Snapshot.SessionId)).ToList();
            if (ended.Count > 0) await EndAsync(db, ended, ct);
        }
        catch (Exception e) when (DependencyHealth.IsTransient(e))
        {
            // Keep them (unless a newer slide of the same session arrived meanwhile) and try again next flush.
            foreach (var slide in batch) _due.TryAdd(slide.Snapshot.SessionId, slide);
            throw;
        }

        var now = time.GetUtcNow();
        // Redis's entry moves only if PostgreSQL's version is still the one the slide was read at: an entry read from
        // a Redis that came back older (or before a role change) is never given a new life.
        var current = updated.ToDictionary(u => u.Id, u => u.SecurityVersion);
        try
        {
            await Task.WhenAll(batch.Where(b => b.Key is not null && current.TryGetValue(b.Snapshot.SessionId, out var v) && v == b.Snapshot.Version)
                .Select(b => redis.TouchSessionAsync(b.Key!.Value, b.Snapshot, b.Snapshot.RemainingLife(now))));
        }
        catch (Exception e) when (e is RedisException or RedisTimeoutException)
        {
            // The entry keeps its older idle expiry; when it runs out, it is rebuilt from PostgreSQL, which has the new one.
        }
    }

    private sealed record SlidRow(Guid Id, long SecurityVersion);

    // PostgreSQL says these ended (or no longer exist): make Redis and every L1 agree.
    private async Task EndAsync(AppDbContext db, List<Slide> slides, CancellationToken ct)
    {
        var ids = slides.Select(s => s.Snapshot.SessionId).ToList();
        // A session of an earlier epoch ended with its user's kick-all, whose rows the relay may not have written yet.
        var reasons = await db.Sessions.AsNoTracking().Where(s => ids.Contains(s.Id))
            .Select(s => new { s.Id, Reason = s.RevokeReason ?? s.User!.SessionsEndedReason }).ToDictionaryAsync(s => s.Id, s => s.Reason, ct);
        try
        {
            await Task.WhenAll(slides.Where(s => s.Key is not null).Select(s => redis.WriteSessionAsync(s.Key!.Value,
                SessionEntry.Tombstone(reasons.GetValueOrDefault(s.Snapshot.SessionId) ?? RevokeReasons.Kicked), TimeSpan.FromHours(1))));
            await bus.PublishAsync(slides.Select(s => s.Snapshot.UserId).Distinct().Select(u => Invalidation.Line(new UserInvalidated(u))).ToList());
        }
        catch (Exception e) when (e is RedisException or RedisTimeoutException)
        {
            // The outbox relay owns getting revocations into Redis; this was only a second chance.
        }
    }
}
