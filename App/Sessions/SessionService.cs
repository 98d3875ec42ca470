using System.Linq.Expressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Revocation;
using SessionGate.Tokens;

namespace SessionGate.Sessions;

/// <summary>
/// The mode-independent half of session control: opening sessions under the login policies, and every change that
/// ends sessions or moves a user's security version. Each runs in one PostgreSQL transaction together with its
/// outbox row (and its audit events); once it has committed, the change is applied to Redis and announced to every
/// instance, and a Redis failure from then on is the outbox relay's to repair, never the caller's.
/// </summary>
public sealed class SessionService(
    AppDbContext db,
    IAuthMode mode,
    RevocationPipeline pipeline,
    AuditLog audit,
    TimeProvider time,
    IOptions<SessionLifetimeOptions> sessionOptions,
    IOptions<JwtOptions> jwtOptions,
    Observability.SessionGateMetrics metrics)
{
    private readonly SessionLifetimeOptions _options = sessionOptions.Value;

    /// <summary>
    /// Runs <paramref name="work"/> in a transaction and commits it with its outbox rows, then applies them. Work that
    /// calls <see cref="SessionChange.Cancel"/> is rolled back and nothing is applied.
    /// </summary>
    public async Task<T> ChangeAsync<T>(Func<SessionChange, Task<T>> work, CancellationToken ct)
    {
        var change = new SessionChange(db, pipeline, time, jwtOptions.Value);
        using var activity = Observability.SessionGateTracing.Source.StartActivity("session.change");
        T result;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            result = await work(change);
            if (change.Cancelled)
            {
                await tx.RollbackAsync(ct);
                db.ChangeTracker.Clear();
                return result;
            }
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }
        foreach (var (reason, count) in change.Ended) metrics.Revoked(reason, count);
        if (activity is not null && change.Ended.Count > 0) activity.SetTag("sessiongate.sessions_ended", change.Ended.Sum(e => e.Count));
        await pipeline.ApplyCommittedAsync(change.Outbox);
        return result;
    }

    /// <summary>Ends every live session the filter selects; returns how many ended.</summary>
    public Task<int> RevokeAsync(Expression<Func<Session, bool>> filter, string reason, CancellationToken ct) =>
        ChangeAsync(c => c.RevokeAsync(filter, reason, ct), ct);

    /// <summary>A login to open; VerifiedPasswordHash is the hash the password was checked against (the login fails if it changed meanwhile).</summary>
    public sealed record LoginRequestInfo(Guid UserId, Tenant Tenant, string DeviceType, string? Ip, string? UserAgent, string VerifiedPasswordHash);

    public enum Refusal { None, LimitReached, Banned, CredentialsChanged }

    public sealed record CreateOutcome(IssuedCredential? Credential, Session? Session, Refusal Refused);

    /// <summary>
    /// Opens a session under the tenant's login policy. The user's row is locked for the transaction so that
    /// concurrent logins of one user see each other and the policy's limit holds, and a ban, a password change or a
    /// deletion either committed first (and is seen here) or waits and then finds the new session.
    /// </summary>
    public async Task<CreateOutcome> CreateAsync(LoginRequestInfo info, CancellationToken ct)
    {
        var tenant = info.Tenant;
        var now = time.GetUtcNow();
        Session? session = null;
        SessionSnapshot? snapshot = null;
        var outcome = await ChangeAsync(async change =>
        {
            var user = await change.LockUserAsync(info.UserId, ct);
            if (user is null || user.PasswordHash != info.VerifiedPasswordHash)
                return change.Cancel(new CreateOutcome(null, null, Refusal.CredentialsChanged));
            if (user.BannedUntil > now) return change.Cancel(new CreateOutcome(null, null, Refusal.Banned));

            var live = await db.Sessions.AsNoTracking().Where(s => s.UserId == info.UserId).Where(SessionReader.IsLive(now))
                .OrderBy(s => s.CreatedAt).Select(s => new { s.Id, s.DeviceType }).ToListAsync(ct);
            var replaced = tenant.LoginPolicy switch
            {
                LoginPolicy.Single => live.Select(s => s.Id).ToList(),
                LoginPolicy.PerDeviceType => live.Where(s => s.DeviceType == info.DeviceType).Select(s => s.Id).ToList(),
                LoginPolicy.MaxN when live.Count >= Math.Max(1, tenant.MaxSessions ?? 1) =>
                    tenant.OnLimit == OnSessionLimit.RejectNew ? null : live.Take(live.Count - Math.Max(1, tenant.MaxSessions ?? 1) + 1).Select(s => s.Id).ToList(),
                _ => [],
            };
            if (replaced is null) return change.Cancel(new CreateOutcome(null, null, Refusal.LimitReached));
            if (replaced.Count > 0)
            {
                await change.RevokeAsync(s => replaced.Contains(s.Id), RevokeReasons.Replaced, ct);
                foreach (var id in replaced)
                    audit.Add(AuditTypes.SessionReplaced, info.UserId, info.UserId, tenant.Id, info.Ip, new { session_id = id, policy = tenant.LoginPolicy.ToString() });
            }

            session = new Session
            {
                UserId = info.UserId,
                TenantId = tenant.Id,
                DeviceType = info.DeviceType,
                Ip = info.Ip,
                UserAgent = Truncate(info.UserAgent, 512),
                CreatedAt = now,
                LastSeenAt = now,
                IdleExpiresAt = _options.NextIdleExpiry(now, now + _options.AbsoluteTimeout),
                AbsoluteExpiresAt = now + _options.AbsoluteTimeout,
            };
            (var identity, snapshot) = await SessionReader.LoadIdentityAsync(db, session, user.Username, tenant.Slug, user.SecurityVersion, ct);
            var credential = await mode.IssueAsync(db, session, identity, user.SecurityVersion, ct);
            db.Sessions.Add(session);
            audit.Add(AuditTypes.LoginSucceeded, info.UserId, info.UserId, tenant.Id, info.Ip, new { session_id = session.Id, device_type = info.DeviceType });
            return new CreateOutcome(credential, session, Refusal.None);
        }, ct);

        if (outcome.Refused == Refusal.None)
        {
            try
            {
                await mode.AfterIssueAsync(session!, snapshot!, ct);
            }
            catch (Exception e) when (RevocationPipeline.IsTransient(e))
            {
                // Only a warm-up: the first request rebuilds the entry from PostgreSQL.
            }
        }
        return outcome;
    }

    private static string? Truncate(string? s, int max) => s is null || s.Length <= max ? s : s[..max];
}

/// <summary>The user row as a change locks it (<c>SELECT … FOR UPDATE</c>).</summary>
public sealed record LockedUser(Guid Id, Guid TenantId, string Username, long SecurityVersion, DateTimeOffset? BannedUntil, string PasswordHash);

/// <summary>One transaction's session changes; each records the outbox row that carries it to Redis.</summary>
public sealed class SessionChange(AppDbContext db, RevocationPipeline pipeline, TimeProvider time, JwtOptions jwt)
{
    private readonly List<OutboxMessage> _outbox = [];
    private readonly List<(string Reason, int Count)> _ended = [];

    /// <summary>Sessions this change ended, by reason (for metrics, once committed).</summary>
    public IReadOnlyList<(string Reason, int Count)> Ended => _ended;

    public AppDbContext Db => db;
    public IReadOnlyList<OutboxMessage> Outbox => _outbox;
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
            SELECT "Id", "TenantId", "Username", "SecurityVersion", "BannedUntil", "PasswordHash" FROM users WHERE "Id" = {userId} FOR UPDATE
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
        var rows = await db.Database.SqlQuery<RevokedRow>($"""
            UPDATE sessions SET "RevokedAt" = {now}, "RevokeReason" = {reason}
            WHERE "Id" = ANY({ids}) AND "RevokedAt" IS NULL
            RETURNING "Id", "UserId", "SecretHash", "AbsoluteExpiresAt", "CurrentJti", "CurrentJtiExpiresAt"
            """).ToListAsync(ct);
        if (rows.Count == 0) return 0;

        // The newest access token of each session stays blacklisted until it would expire anyway.
        var tokens = rows.Where(r => r.CurrentJti is not null && r.CurrentJtiExpiresAt > now).ToList();
        if (tokens.Count > 0)
        {
            var jtis = tokens.Select(r => r.CurrentJti!).ToArray();
            var users = tokens.Select(r => r.UserId).ToArray();
            var expires = tokens.Select(r => r.CurrentJtiExpiresAt!.Value + jwt.ClockSkew).ToArray();
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO revoked_tokens ("Jti", "UserId", "Reason", "ExpiresAt")
                SELECT j, u, {reason}, e FROM unnest({jtis}, {users}, {expires}) AS t(j, u, e)
                ON CONFLICT DO NOTHING
                """, ct);
        }
        _outbox.Add(pipeline.Enqueue(db, new SessionsRevoked(reason,
            rows.Select(r => new RevokedSession(r.Id, r.UserId, r.SecretHash, r.AbsoluteExpiresAt, r.CurrentJti, r.CurrentJtiExpiresAt)).ToArray())));
        _ended.Add((reason, rows.Count));
        return rows.Count;
    }

    /// <summary>
    /// Announces sessions the filter selects that already ended, with the reason they ended: a retried logout or
    /// kick repairs Redis even if the first attempt's write was lost.
    /// </summary>
    public async Task<int> RemirrorAsync(Expression<Func<Session, bool>> filter, CancellationToken ct)
    {
        var rows = await db.Sessions.AsNoTracking().Where(filter).Where(s => s.RevokedAt != null)
            .Select(s => new { s.Id, s.UserId, s.SecretHash, s.AbsoluteExpiresAt, s.CurrentJti, s.CurrentJtiExpiresAt, s.RevokeReason }).ToListAsync(ct);
        foreach (var group in rows.GroupBy(r => r.RevokeReason ?? RevokeReasons.Kicked))
        {
            _outbox.Add(pipeline.Enqueue(db, new SessionsRevoked(group.Key,
                group.Select(r => new RevokedSession(r.Id, r.UserId, r.SecretHash, r.AbsoluteExpiresAt, r.CurrentJti, r.CurrentJtiExpiresAt)).ToArray())));
        }
        return rows.Count;
    }

    /// <summary>Moves the users' security versions (every access token already issued dies in Blacklist mode) and re-mirrors their live sessions.</summary>
    public async Task UsersChangedAsync(IReadOnlyCollection<Guid> userIds, string reason, CancellationToken ct)
    {
        if (userIds.Count == 0) return;
        var ids = userIds.ToArray();
        await db.Users.Where(u => ids.Contains(u.Id))
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.SecurityVersion, u => u.SecurityVersion + 1).SetProperty(u => u.LastRevokeReason, reason), ct);
        _outbox.Add(pipeline.Enqueue(db, new UsersChanged(reason, ids)));
    }

    /// <summary>A tenant's roles changed: its role-set version and the holders' security versions move forward.</summary>
    public async Task RolesChangedAsync(Guid tenantId, IReadOnlyCollection<Guid> holders, CancellationToken ct)
    {
        await db.Tenants.Where(t => t.Id == tenantId).ExecuteUpdateAsync(s => s.SetProperty(t => t.RolesVersion, t => t.RolesVersion + 1), ct);
        var ids = holders.ToArray();
        if (ids.Length > 0)
        {
            await db.Users.Where(u => ids.Contains(u.Id)).ExecuteUpdateAsync(s => s
                .SetProperty(u => u.SecurityVersion, u => u.SecurityVersion + 1).SetProperty(u => u.LastRevokeReason, RevokeReasons.RolesChanged), ct);
        }
        _outbox.Add(pipeline.Enqueue(db, new RolesChanged(tenantId, ids)));
    }

    /// <summary>The signing keys changed: every instance re-reads them.</summary>
    public void KeysChanged() => _outbox.Add(pipeline.Enqueue(db, new KeysChanged()));

    internal sealed record RevokedRow(Guid Id, Guid UserId, byte[]? SecretHash, DateTimeOffset AbsoluteExpiresAt, string? CurrentJti, DateTimeOffset? CurrentJtiExpiresAt);
}
