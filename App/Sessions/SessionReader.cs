using System.Linq.Expressions;
using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>Read-only PostgreSQL queries shared by the modes and the session service: snapshots, role ids, identities.</summary>
public static class SessionReader
{
    /// <summary>
    /// A session is live if its row was not ended, it has not expired, and no kick-all (ban, password change) of its
    /// user came after it: <see cref="Session.UserEpoch"/> is still the user's <see cref="User.SessionEpoch"/>.
    /// </summary>
    public static Expression<Func<Session, bool>> IsLive(DateTimeOffset now) =>
        s => s.RevokedAt == null && s.IdleExpiresAt > now && s.AbsoluteExpiresAt > now && s.UserEpoch == s.User!.SessionEpoch;

    /// <summary>
    /// <see cref="IsLive"/> by the session's row alone, without the join to its user: it still counts sessions a
    /// kick-all ended until the relay writes their rows (within a relay tick or two). Only for counts.
    /// </summary>
    public static Expression<Func<Session, bool>> RowIsLive(DateTimeOffset now) =>
        s => s.RevokedAt == null && s.IdleExpiresAt > now && s.AbsoluteExpiresAt > now;

    public static SessionSnapshot ToSnapshot(Session s, string username, Guid[] roleIds, long version) =>
        new(s.UserId, s.TenantId, s.Id, s.DeviceType, username, roleIds, s.CreatedAt, s.AbsoluteExpiresAt, s.IdleExpiresAt, s.LastSeenAt, version,
            SessionAssurance.Of(s));

    /// <summary>Sessions with what their Redis entries need (user name, security version, role ids).</summary>
    public static async Task<List<(Session Row, SessionSnapshot Snapshot)>> LoadSnapshotsAsync(AppDbContext db, IQueryable<Session> sessions, CancellationToken ct)
    {
        var rows = await (from s in sessions.AsNoTracking()
                          join u in db.Users on s.UserId equals u.Id
                          select new { Session = s, u.Username, u.SecurityVersion }).ToListAsync(ct);
        if (rows.Count == 0) return [];
        // Role ids are read after the version: a role change commits its roles before (or with) the version, so an
        // entry never pairs a version with roles older than it.
        var roles = await LoadRoleIdsAsync(db, rows.Select(r => r.Session.UserId).Distinct().ToList(), ct);
        return rows.Select(r => (r.Session, ToSnapshot(r.Session, r.Username, roles.GetValueOrDefault(r.Session.UserId, []), r.SecurityVersion))).ToList();
    }

    /// <summary>The session as Redis should hold it: live, or a tombstone with the reason it ended. Null if unknown.</summary>
    public static async Task<SessionEntry?> LoadEntryAsync(AppDbContext db, IQueryable<Session> session, CancellationToken ct)
    {
        var row = await (from s in session.AsNoTracking().Take(1)
                         join u in db.Users on s.UserId equals u.Id
                         select new { Session = s, u.Username, u.SecurityVersion, u.SessionEpoch, u.SessionsEndedReason }).FirstOrDefaultAsync(ct);
        if (row is null) return null;
        if (row.Session.RevokedAt is not null) return SessionEntry.Tombstone(row.Session.RevokeReason ?? RevokeReasons.Kicked);
        // Ended by a kick-all whose rows the relay has not written yet: as good as written.
        if (row.Session.UserEpoch != row.SessionEpoch) return SessionEntry.Tombstone(row.SessionsEndedReason ?? RevokeReasons.Kicked);
        var roles = await LoadRoleIdsAsync(db, [row.Session.UserId], ct);
        return SessionEntry.Of(ToSnapshot(row.Session, row.Username, roles.GetValueOrDefault(row.Session.UserId, []), row.SecurityVersion));
    }

    public static async Task<Dictionary<Guid, Guid[]>> LoadRoleIdsAsync(AppDbContext db, IReadOnlyCollection<Guid> userIds, CancellationToken ct)
    {
        var ids = userIds.ToList();
        var rows = await db.UserRoles.AsNoTracking().Where(ur => ids.Contains(ur.UserId)).Select(ur => new { ur.UserId, ur.RoleId }).ToListAsync(ct);
        return rows.GroupBy(r => r.UserId).ToDictionary(g => g.Key, g => g.Select(r => r.RoleId).Order().ToArray());
    }

    /// <summary>Who a session belongs to, with role names and permissions (login and refresh put them in tokens).</summary>
    public static async Task<(SessionIdentity Identity, SessionSnapshot Snapshot)> LoadIdentityAsync(
        AppDbContext db, Session session, string username, string tenantSlug, long version, CancellationToken ct)
    {
        var userId = session.UserId;
        var roles = await (from ur in db.UserRoles.AsNoTracking()
                           join r in db.Roles on ur.RoleId equals r.Id
                           where ur.UserId == userId
                           select new { r.Id, r.Name, r.Permissions }).ToListAsync(ct);
        var identity = new SessionIdentity(session.UserId, session.TenantId, tenantSlug, username, session.Id, session.DeviceType,
            roles.Select(r => r.Name).Order(StringComparer.Ordinal).ToArray(),
            roles.SelectMany(r => r.Permissions).Distinct().Order(StringComparer.Ordinal).ToArray(),
            session.CreatedAt, session.AbsoluteExpiresAt, SessionAssurance.Of(session));
        return (identity, ToSnapshot(session, username, roles.Select(r => r.Id).Order().ToArray(), version));
    }
}
