using System.Linq.Expressions;
using SessionGate.Data;
using SessionGate.Tokens;

namespace SessionGate.Sessions;

/// <summary>One transaction's session changes; each records the outbox row that carries it to Redis.</summary>
public sealed class SessionChange(AppDbContext db, RevocationPipeline pipeline, TimeProvider time, JwtOptions jwt)
{
    private readonly List<OutboxMessage> _outbox = [];
    private readonly List<RevocationEvent> _unrecorded = [];
    private readonly List<(string Reason, int Count)> _ended = [];

    /// <summary>Sessions this change ended, by reason (for metrics, once committed).</summary>
    public IReadOnlyList<(string Reason, int Count)> Ended => _ended;

    public AppDbContext Db => db;
    public IReadOnlyList<OutboxMessage> Outbox => _outbox;

    /// <summary>Changes to apply once committed that carry no outbox row (re-announcements of what already ended).</summary>
    public IReadOnlyList<RevocationEvent> Unrecorded => _unrecorded;
    public bool Cancelled { get; private set; }

    /// <summary>Rolls the transaction back; returns <paramref name="result"/> for convenience.</summary>
    public T Cancel<T>(T result)
    {
        Cancelled = true;
        return result;
    }

    /// <summary>Locks the user's row until the transaction ends; null if the user does not exist.</summary>
    public async Task<LockedUser?> LockUserAsync(Guid userId, CancellationToken ct) =>
        // Materialised as written (not composed into a subquery), so the lock is exactly this statement's.
        (await db.Database.SqlQuery<LockedUser>($"""
            SELECT "Id", "TenantId", "Username", "SecurityVersion", "BannedUntil", "PasswordHash", "SessionEpoch" FROM users WHERE "Id" = {userId} FOR UPDATE
            """).ToListAsync(ct)).FirstOrDefault();

    /// <summary>
    /// Ends the live sessions the filter selects, atomically per row (of two concurrent revocations of one session
    /// only one wins). The row values are read after the row lock, so a refresh that committed first is seen: its
    /// new access token goes on the jti blacklist too.
    /// </summary>
    public async Task<int> RevokeAsync(Expression<Func<Session, bool>> filter, string reason, CancellationToken ct)
    {
        var ids = await db.Sessions.Where(filter).Where(s => s.RevokedAt == null).Select(s => s.Id).ToArrayAsync(ct);
        if (ids.Length == 0) return 0;
        var now = time.GetUtcNow();
        var rows = await db.Database.SqlQuery<RevokedSession>($"""
            UPDATE sessions SET "RevokedAt" = {now}, "RevokeReason" = {reason}
            WHERE "Id" = ANY({ids}) AND "RevokedAt" IS NULL
            RETURNING "Id", "UserId", "SecretHash", "AbsoluteExpiresAt", "CurrentJti" AS "Jti", "CurrentJtiExpiresAt" AS "JtiExpiresAt"
            """).ToListAsync(ct);
        if (rows.Count == 0) return 0;

        // The newest access token of each session stays blacklisted until it would expire anyway.
        var tokens = rows.Where(r => r.Jti is not null && r.JtiExpiresAt > now).ToList();
        if (tokens.Count > 0)
        {
            var jtis = tokens.Select(r => r.Jti!).ToArray();
            var users = tokens.Select(r => r.UserId).ToArray();
            var expires = tokens.Select(r => r.JtiExpiresAt!.Value + jwt.ClockSkew).ToArray();
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO revoked_tokens ("Jti", "UserId", "Reason", "ExpiresAt")
                SELECT j, u, {reason}, e FROM unnest({jtis}, {users}, {expires}) AS t(j, u, e)
                ON CONFLICT DO NOTHING
                """, ct);
        }
        _outbox.Add(pipeline.Enqueue(db, new SessionsRevoked(reason, [.. rows])));
        await Events.EventLog.SessionsEndedAsync(db, [.. rows.Select(r => r.Id)], reason, now, ct);
        _ended.Add((reason, rows.Count));
        return rows.Count;
    }

    /// <summary>
    /// Ends every session of the user at once (kick-all, ban, password change) by moving the user's session epoch and
    /// security version: one row's write however many sessions there are, and the user's row stays locked until the
    /// transaction ends, so a login in flight either opened its session before (and it ends here) or opens it after.
    /// The request writes the sessions' tombstones once committed; the relay writes their rows after its grace
    /// period, and every reader of live sessions compares epochs meanwhile (<see cref="SessionReader.IsLive"/>).
    /// Returns how many live sessions ended; 0 if the user does not exist.
    /// </summary>
    public async Task<int> EndAllAsync(Guid userId, string reason, CancellationToken ct)
    {
        var moved = await db.Database.SqlQuery<MovedUser>($"""
            UPDATE users SET "SessionEpoch" = "SessionEpoch" + 1, "SessionsEndedReason" = {reason},
                             "SecurityVersion" = "SecurityVersion" + 1, "LastRevokeReason" = {reason}
            WHERE "Id" = {userId} RETURNING "SessionEpoch", "SecurityVersion"
            """).ToListAsync(ct);
        if (moved.Count == 0) return 0;
        var (epoch, version) = (moved[0].SessionEpoch, moved[0].SecurityVersion);
        var now = time.GetUtcNow();
        // Read here, under the user's lock, for the tombstones the request writes once committed.
        var ended = await db.Sessions.AsNoTracking().Where(s => s.UserId == userId && s.RevokedAt == null && s.UserEpoch < epoch)
            .Select(s => new RevokedSession(s.Id, s.UserId, s.SecretHash, s.AbsoluteExpiresAt, s.CurrentJti, s.CurrentJtiExpiresAt)).ToArrayAsync(ct);
        // One row does it all: tombstones (Opaque, SessionCache) or the raised version (Blacklist), and the floor.
        _outbox.Add(pipeline.Enqueue(db, new UserSessionsEnded(userId, epoch, version, reason, now) { Ended = ended }));
        await Events.EventLog.UserSessionsEndedAsync(db, userId, epoch, reason, now, ct);
        var live = ended.Count(s => s.AbsoluteExpiresAt > now);
        if (live > 0) _ended.Add((reason, live));
        return live;
    }

    /// <summary>
    /// Announces sessions the filter selects that already ended, with the reason they ended: a retried logout or
    /// kick writes their tombstones again once committed. It writes no outbox row: the ending's own row is applied by
    /// the relay and held against Redis until Redis's marks prove it, so a retry cannot grow the outbox.
    /// </summary>
    public async Task<int> RemirrorAsync(Expression<Func<Session, bool>> filter, CancellationToken ct)
    {
        var rows = await db.Sessions.AsNoTracking().Where(filter).Where(s => s.RevokedAt != null)
            .Select(s => new { s.Id, s.UserId, s.SecretHash, s.AbsoluteExpiresAt, s.CurrentJti, s.CurrentJtiExpiresAt, s.RevokeReason }).ToListAsync(ct);
        foreach (var group in rows.GroupBy(r => r.RevokeReason ?? RevokeReasons.Kicked))
        {
            _unrecorded.Add(new SessionsRevoked(group.Key,
                group.Select(r => new RevokedSession(r.Id, r.UserId, r.SecretHash, r.AbsoluteExpiresAt, r.CurrentJti, r.CurrentJtiExpiresAt)).ToArray()));
        }
        return rows.Count;
    }

    /// <summary>Moves the users' security versions (every access token already issued dies in Blacklist mode) and re-mirrors their live sessions.</summary>
    public async Task UsersChangedAsync(IReadOnlyCollection<Guid> userIds, string reason, CancellationToken ct)
    {
        if (userIds.Count == 0) return;
        var ids = userIds.ToArray();
        var moved = await db.Database.SqlQuery<MovedVersion>($"""
            UPDATE users SET "SecurityVersion" = "SecurityVersion" + 1, "LastRevokeReason" = {reason}
            WHERE "Id" = ANY({ids}) RETURNING "Id", "SecurityVersion"
            """).ToListAsync(ct);
        if (moved.Count == 0) return;
        _outbox.Add(pipeline.Enqueue(db, new UsersChanged(reason, [.. moved.Select(m => m.Id)], [.. moved.Select(m => m.SecurityVersion)])));
    }

    /// <summary>A tenant's roles changed: its role-set version and the holders' security versions move forward.</summary>
    public async Task RolesChangedAsync(Guid tenantId, IReadOnlyCollection<Guid> holders, CancellationToken ct)
    {
        var rolesVersion = (await db.Database.SqlQuery<long>($"""
            UPDATE tenants SET "RolesVersion" = "RolesVersion" + 1 WHERE "Id" = {tenantId} RETURNING "RolesVersion" AS "Value"
            """).ToListAsync(ct)).FirstOrDefault();
        var ids = holders.ToArray();
        List<MovedVersion> moved = [];
        if (ids.Length > 0)
        {
            moved = await db.Database.SqlQuery<MovedVersion>($"""
                UPDATE users SET "SecurityVersion" = "SecurityVersion" + 1, "LastRevokeReason" = {RevokeReasons.RolesChanged}
                WHERE "Id" = ANY({ids}) RETURNING "Id", "SecurityVersion"
                """).ToListAsync(ct);
        }
        _outbox.Add(pipeline.Enqueue(db, new RolesChanged(tenantId, [.. moved.Select(m => m.Id)], rolesVersion, [.. moved.Select(m => m.SecurityVersion)])));
        await Events.EventLog.HoldersRolesChangedAsync(db, tenantId, [.. moved.Select(m => m.Id)], time.GetUtcNow(), ct);
    }

    /// <summary>The signing keys changed: every instance re-reads them.</summary>
    public void KeysChanged() => _outbox.Add(pipeline.Enqueue(db, new KeysChanged()));
}

internal sealed record MovedUser(long SessionEpoch, long SecurityVersion);

internal sealed record MovedVersion(Guid Id, long SecurityVersion);
