using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Data;
using SessionGate.Admin;
using SessionGate.Infrastructure;

namespace SessionGate.Sessions;

/// <summary>
/// The mode-independent half of session control: login policies, revocation and role changes. PostgreSQL is
/// written first, then the mode mirrors the result into Redis, so Redis can always be rebuilt.
/// </summary>
public sealed class SessionService(
    AppDbContext db,
    IAuthMode mode,
    TimeProvider time,
    IOptions<SessionLifetimeOptions> sessionOptions,
    IOptions<JwtOptions> jwtOptions,
    AuditLog audit)
{
    private readonly SessionLifetimeOptions _options = sessionOptions.Value;

    public static Expression<Func<Session, bool>> IsLive(DateTimeOffset now) =>
        s => s.RevokedAt == null && s.IdleExpiresAt > now && s.AbsoluteExpiresAt > now;

    /// <summary>A login to open; VerifiedPasswordHash is the hash the password was checked against (the login fails if it changed meanwhile).</summary>
    public sealed record LoginRequestInfo(User User, Tenant Tenant, string DeviceType, string? Ip, string? UserAgent, string VerifiedPasswordHash);

    public enum Refusal { None, LimitReached, Banned, CredentialsChanged }

    public sealed record CreateOutcome(IssuedCredential? Credential, Session? Session, Refusal Refused);

    private sealed record LockedUser(long SecurityVersion, DateTimeOffset? BannedUntil, string PasswordHash);

    /// <summary>
    /// Opens a session under the tenant's login policy. The user's row is locked for the transaction so that
    /// concurrent logins of one user see each other and the policy's limit holds.
    /// </summary>
    public async Task<CreateOutcome> CreateAsync(LoginRequestInfo info, CancellationToken ct)
    {
        var (user, tenant) = (info.User, info.Tenant);
        var now = time.GetUtcNow();
        List<Session> replaced = [];
        Session? session = null;
        SessionSnapshot? snapshot = null;
        IssuedCredential? credential = null;
        long version = 0;

        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            // Bans and password changes update this row too, so they are ordered against this login: either they
            // committed first and are seen here, or they wait and then find (and end) the new session.
            var locked = await db.Database
                .SqlQuery<LockedUser>($"SELECT \"SecurityVersion\", \"BannedUntil\", \"PasswordHash\" FROM users WHERE \"Id\" = {user.Id} FOR UPDATE")
                .SingleAsync(ct);
            if (locked.BannedUntil > now) return new CreateOutcome(null, null, Refusal.Banned);
            if (locked.PasswordHash != info.VerifiedPasswordHash) return new CreateOutcome(null, null, Refusal.CredentialsChanged);
            version = locked.SecurityVersion;

            var live = await db.Sessions.AsNoTracking().Where(s => s.UserId == user.Id).Where(IsLive(now))
                .OrderBy(s => s.CreatedAt).ToListAsync(ct);
            switch (tenant.LoginPolicy)
            {
                case LoginPolicy.Single:
                    replaced = live;
                    break;
                case LoginPolicy.PerDeviceType:
                    replaced = live.Where(s => s.DeviceType == info.DeviceType).ToList();
                    break;
                case LoginPolicy.MaxN:
                    var max = Math.Max(1, tenant.MaxSessions ?? 1);
                    if (live.Count >= max)
                    {
                        if (tenant.OnLimit == OnSessionLimit.RejectNew) return new CreateOutcome(null, null, Refusal.LimitReached);
                        replaced = live.Take(live.Count - max + 1).ToList();
                    }
                    break;
            }
            replaced = await MarkRevokedAsync(replaced, RevokeReasons.Replaced, now, ct);

            session = new Session
            {
                UserId = user.Id,
                TenantId = tenant.Id,
                DeviceType = info.DeviceType,
                Ip = info.Ip,
                UserAgent = Truncate(info.UserAgent, 512),
                CreatedAt = now,
                LastSeenAt = now,
                IdleExpiresAt = _options.NextIdleExpiry(now, now + _options.AbsoluteTimeout),
                AbsoluteExpiresAt = now + _options.AbsoluteTimeout,
            };
            var roles = await LoadRoleSetsAsync([user.Id], ct);
            snapshot = ToSnapshot(session, user.Username, tenant.Slug, roles.GetValueOrDefault(user.Id, RoleSet.Empty), version);
            credential = await mode.IssueAsync(session, snapshot, version, ct);
            db.Sessions.Add(session);
            audit.Add(AuditTypes.LoginSucceeded, user.Id, user.Id, tenant.Id, info.Ip, new { session_id = session.Id, device_type = info.DeviceType });
            foreach (var r in replaced)
                audit.Add(AuditTypes.SessionReplaced, user.Id, user.Id, tenant.Id, info.Ip, new { session_id = r.Id, policy = tenant.LoginPolicy.ToString() });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }

        if (replaced.Count > 0) await mode.MirrorRevokedAsync(replaced, RevokeReasons.Replaced, ct);
        await mode.AfterIssueAsync(session, snapshot, version, ct);
        return new CreateOutcome(credential, session, Refusal.None);
    }

    /// <summary>Revokes every live session the filter selects; returns how many ended.</summary>
    /// <remarks>
    /// The session's newest access token goes on the jti blacklist; older ones (from before a refresh) die
    /// with the session itself, whose revocation every mode checks.
    /// </remarks>
    public async Task<int> RevokeAsync(Expression<Func<Session, bool>> filter, string reason, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var candidates = await db.Sessions.AsNoTracking().Where(filter).Where(s => s.RevokedAt == null).ToListAsync(ct);
        var sessions = await MarkRevokedAsync(candidates, reason, now, ct);
        if (sessions.Count == 0) return 0;
        await mode.MirrorRevokedAsync(sessions, reason, ct);
        return sessions.Count;
    }

    /// <summary>
    /// Moves the user's security version (kills every access token already issued in Blacklist mode) and
    /// re-mirrors the user's live sessions with their current roles. Used for role changes, kick-all and bans.
    /// </summary>
    public async Task UserChangedAsync(Guid userId, string reason, CancellationToken ct) => await UsersChangedAsync([userId], reason, ct);

    public async Task UsersChangedAsync(IReadOnlyCollection<Guid> userIds, string reason, CancellationToken ct)
    {
        if (userIds.Count == 0) return;
        var ids = userIds.ToList();
        await db.Users.Where(u => ids.Contains(u.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.SecurityVersion, u => u.SecurityVersion + 1).SetProperty(u => u.LastRevokeReason, reason), ct);
        var versions = await db.Users.Where(u => ids.Contains(u.Id)).Select(u => new { u.Id, u.SecurityVersion }).ToListAsync(ct);
        var now = time.GetUtcNow();
        var live = await LoadSnapshotsAsync(db.Sessions.Where(s => ids.Contains(s.UserId)).Where(IsLive(now)), ct);
        foreach (var v in versions)
            await mode.MirrorUserChangedAsync(v.Id, v.SecurityVersion, reason, live.Where(l => l.Session.UserId == v.Id).ToList(), ct);
    }

    /// <summary>Live sessions with the user's current roles and permissions, for rebuilding Redis entries.</summary>
    public async Task<List<(Session Session, SessionSnapshot Snapshot)>> LoadSnapshotsAsync(IQueryable<Session> sessions, CancellationToken ct)
    {
        var rows = await (from s in sessions.AsNoTracking()
                          join u in db.Users on s.UserId equals u.Id
                          join t in db.Tenants on s.TenantId equals t.Id
                          select new { Session = s, u.Username, u.SecurityVersion, t.Slug }).ToListAsync(ct);
        if (rows.Count == 0) return [];
        // Roles are read after the version: a role change commits its roles before bumping the version, so an
        // entry never pairs a version with roles older than it.
        var roles = await LoadRoleSetsAsync(rows.Select(r => r.Session.UserId).Distinct().ToList(), ct);
        return rows.Select(r => (r.Session, ToSnapshot(r.Session, r.Username, r.Slug, roles.GetValueOrDefault(r.Session.UserId, RoleSet.Empty), r.SecurityVersion))).ToList();
    }

    public sealed record RoleSet(string[] Roles, string[] Permissions)
    {
        public static readonly RoleSet Empty = new([], []);
    }

    public async Task<Dictionary<Guid, RoleSet>> LoadRoleSetsAsync(IReadOnlyCollection<Guid> userIds, CancellationToken ct)
    {
        var ids = userIds.ToList();
        var rows = await (from ur in db.UserRoles
                          join r in db.Roles on ur.RoleId equals r.Id
                          where ids.Contains(ur.UserId)
                          select new { ur.UserId, r.Name, r.Permissions }).ToListAsync(ct);
        return rows.GroupBy(r => r.UserId).ToDictionary(
            g => g.Key,
            g => new RoleSet(
                g.Select(r => r.Name).Distinct().Order(StringComparer.Ordinal).ToArray(),
                g.SelectMany(r => r.Permissions).Distinct().Order(StringComparer.Ordinal).ToArray()));
    }

    public static SessionSnapshot ToSnapshot(Session s, string username, string tenantSlug, RoleSet roles, long version) =>
        new(s.UserId, s.TenantId, tenantSlug, username, s.Id, s.DeviceType, roles.Roles, roles.Permissions,
            s.CreatedAt, s.AbsoluteExpiresAt, s.IdleExpiresAt, s.LastSeenAt, version);

    /// <summary>
    /// Ends the sessions that are still live, atomically per row: of two concurrent revocations of one session
    /// only one wins, so the newest access token goes on the jti blacklist exactly once. Returns the winners.
    /// </summary>
    private async Task<List<Session>> MarkRevokedAsync(List<Session> sessions, string reason, DateTimeOffset now, CancellationToken ct)
    {
        if (sessions.Count == 0) return sessions;
        var ids = sessions.Select(s => s.Id).ToArray();
        var won = await db.Database.SqlQuery<Guid>(
                $"UPDATE sessions SET \"RevokedAt\" = {now}, \"RevokeReason\" = {reason} WHERE \"Id\" = ANY({ids}) AND \"RevokedAt\" IS NULL RETURNING \"Id\" AS \"Value\"")
            .ToListAsync(ct);
        var revoked = sessions.Where(s => won.Contains(s.Id)).ToList();
        foreach (var s in revoked)
        {
            s.RevokedAt = now;
            s.RevokeReason = reason;
            // The newest access token of the session stays blacklisted until it would expire anyway.
            if (s.CurrentJti is not null && s.CurrentJtiExpiresAt > now)
            {
                var expires = s.CurrentJtiExpiresAt.Value + jwtOptions.Value.ClockSkew;
                await db.Database.ExecuteSqlAsync(
                    $"INSERT INTO revoked_tokens (\"Jti\", \"UserId\", \"Reason\", \"ExpiresAt\") VALUES ({s.CurrentJti}, {s.UserId}, {reason}, {expires}) ON CONFLICT DO NOTHING", ct);
            }
        }
        return revoked;
    }

    private static string? Truncate(string? s, int max) => s is null || s.Length <= max ? s : s[..max];
}
