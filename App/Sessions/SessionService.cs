using SessionGate.Audit;
using SessionGate.Data;
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
        foreach (var again in change.Unrecorded) await pipeline.ApplyUnrecordedAsync(again);
        return result;
    }


    /// <summary>A login to open; VerifiedPasswordHash is the hash the password was checked against (the login fails if it changed meanwhile).</summary>
    // Assurance: how the user proved who they are (second factors); null: a password, now.
    public sealed record LoginRequestInfo(Guid UserId, Tenant Tenant, string DeviceType, string? Ip, string? UserAgent, string VerifiedPasswordHash,
        SessionAssurance? Assurance = null);

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
                UserEpoch = user.SessionEpoch,
                TenantId = tenant.Id,
                DeviceType = info.DeviceType,
                Ip = info.Ip,
                UserAgent = Truncate(info.UserAgent, 512),
                CreatedAt = now,
                LastSeenAt = now,
                IdleExpiresAt = _options.NextIdleExpiry(now, now + _options.AbsoluteTimeout),
                AbsoluteExpiresAt = now + _options.AbsoluteTimeout,
            };
            (info.Assurance ?? SessionAssurance.PasswordAt(now)).WriteTo(session);
            (var identity, snapshot) = await SessionReader.LoadIdentityAsync(db, session, user.Username, tenant.Slug, user.SecurityVersion, ct);
            var credential = await mode.IssueAsync(db, session, identity, user.SecurityVersion, ct);
            db.Sessions.Add(session);
            Events.EventLog.SessionCreated(db, session);
            audit.Add(AuditTypes.LoginSucceeded, info.UserId, info.UserId, tenant.Id, info.Ip, new { session_id = session.Id, device_type = info.DeviceType });
            return new CreateOutcome(credential, session, Refusal.None);
        }, ct);

        if (outcome.Refused == Refusal.None)
        {
            try
            {
                await mode.AfterIssueAsync(session!, snapshot!, ct);
            }
            catch (Exception e) when (DependencyHealth.IsTransient(e))
            {
                // Only a warm-up: the first request rebuilds the entry from PostgreSQL.
            }
        }
        return outcome;
    }

    private static string? Truncate(string? s, int max) => s is null || s.Length <= max ? s : s[..max];
}
