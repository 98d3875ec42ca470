using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Data;
using SessionGate.Infrastructure;

namespace SessionGate.Sessions;

/// <summary>
/// Shared by the two modes that keep the whole session in Redis (Opaque and SessionCache): expiry, sliding
/// refresh (throttled) and rebuilding a missing entry from PostgreSQL.
/// </summary>
public abstract class CachedSessionMode(
    AppDbContext db,
    RedisStore redis,
    TimeProvider time,
    IOptions<SessionLifetimeOptions> sessionOptions,
    IServiceProvider services)
{
    protected AppDbContext Db => db;
    protected RedisStore Redis => redis;
    protected TimeProvider Time => time;
    protected SessionLifetimeOptions Options => sessionOptions.Value;

    // Resolved lazily: SessionService itself depends on the mode.
    private SessionService Sessions => services.GetRequiredService<SessionService>();

    /// <summary>Checks a cached entry (or rebuilds it from PostgreSQL when Redis has none) and slides the idle expiry.</summary>
    protected async Task<AuthOutcome> CheckAsync(
        CachedSession? entry, Func<IQueryable<Session>, IQueryable<Session>> find, Guid? expectedUser,
        Func<CachedSession, Task> write, bool databaseOnly, CancellationToken ct)
    {
        if (entry is null || databaseOnly)
        {
            entry = await RebuildAsync(find, ct);
            if (entry is null) return AuthOutcome.Unknown;
            if (!databaseOnly) await write(entry);
        }
        if (entry.Revoked is not null) return AuthOutcome.Revoked(entry.Revoked);
        var s = entry.Session!;
        if (expectedUser is not null && s.UserId != expectedUser) return AuthOutcome.Unknown;

        var now = time.GetUtcNow();
        if (now >= s.AbsoluteExpiresAt || now >= s.IdleExpiresAt) return AuthOutcome.Revoked(RevokeReasons.Expired);
        if (now - s.LastTouchedAt >= Options.SlidingWriteInterval)
        {
            var slid = await SlideAsync(s, now, write, databaseOnly, ct);
            if (slid is null)
            {
                // PostgreSQL says the session has ended though Redis did not know (a lost mirror write):
                // believe PostgreSQL and repair Redis. Staleness is bounded by the sliding interval.
                var truth = await RebuildAsync(find, ct);
                if (truth?.Revoked is not { } reason) return AuthOutcome.Unknown;
                if (!databaseOnly) await write(truth);
                return AuthOutcome.Revoked(reason);
            }
            s = slid;
        }
        return AuthOutcome.Ok(s);
    }

    /// <summary>Slides the idle expiry; null when PostgreSQL no longer holds the session live.</summary>
    private async Task<SessionSnapshot?> SlideAsync(SessionSnapshot s, DateTimeOffset now, Func<CachedSession, Task> write, bool databaseOnly, CancellationToken ct)
    {
        var idle = Options.NextIdleExpiry(now, s.AbsoluteExpiresAt);
        s = s with { IdleExpiresAt = idle, LastTouchedAt = now };
        var id = s.SessionId;
        // PostgreSQL first; a session revoked meanwhile is not revived because the update skips it.
        var updated = await db.Sessions.Where(x => x.Id == id && x.RevokedAt == null)
            .ExecuteUpdateAsync(u => u.SetProperty(x => x.LastSeenAt, now).SetProperty(x => x.IdleExpiresAt, idle), ct);
        if (updated == 0) return null;
        if (!databaseOnly) await write(CachedSession.Live(s));
        return s;
    }

    private async Task<CachedSession?> RebuildAsync(Func<IQueryable<Session>, IQueryable<Session>> find, CancellationToken ct)
    {
        var loaded = await Sessions.LoadSnapshotsAsync(find(db.Sessions).Take(1), ct);
        if (loaded.Count == 0) return null;
        var (row, snapshot) = loaded[0];
        return row.RevokedAt is null ? CachedSession.Live(snapshot) : CachedSession.Tombstone(row.RevokeReason ?? RevokeReasons.Kicked);
    }

    /// <summary>A live entry lives no longer than the session can; a tombstone written on rebuild, an hour.</summary>
    protected TimeSpan EntryTtl(CachedSession entry) => entry.Session is null ? TimeSpan.FromHours(1) : LiveTtl(entry.Session);

    protected TimeSpan LiveTtl(SessionSnapshot s) => (s.IdleExpiresAt < s.AbsoluteExpiresAt ? s.IdleExpiresAt : s.AbsoluteExpiresAt) - time.GetUtcNow();

    // A tombstone outlives every access token of the session, and answers with the reason until then.
    protected TimeSpan TombstoneTtl(Session s)
    {
        var remaining = s.AbsoluteExpiresAt - time.GetUtcNow();
        return remaining > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : remaining + TimeSpan.FromMinutes(1);
    }
}
