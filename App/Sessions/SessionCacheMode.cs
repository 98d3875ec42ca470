using Microsoft.Extensions.Options;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Tokens;

namespace SessionGate.Sessions;

/// <summary>
/// A minimal JWT (sub, sid, jti) names the session; the session itself (roles, permissions, tenant, device)
/// lives in Redis under the user's hash tag and is read on every request, so admin changes show at once.
/// </summary>
public sealed class SessionCacheMode(
    AppDbContext db,
    RedisStore redis,
    TokenService tokens,
    JwtCredentials credentials,
    TimeProvider time,
    IOptions<SessionLifetimeOptions> options,
    IServiceProvider services)
    : CachedSessionMode(db, redis, time, options, services), IAuthMode
{
    public bool AcceptsCookie => false;

    public Task<IssuedCredential> IssueAsync(Session session, SessionSnapshot s, long securityVersion, CancellationToken ct) =>
        credentials.IssueAsync(session, new Dictionary<string, object>
        {
            [SessionClaims.Subject] = s.UserId.ToString(),
            [SessionClaims.SessionId] = s.SessionId.ToString(),
        }, ct);

    public Task AfterIssueAsync(Session session, SessionSnapshot snapshot, long securityVersion, CancellationToken ct) =>
        Redis.SetCachedSessionAsync(session.UserId, session.Id, CachedSession.Live(snapshot), LiveTtl(snapshot));

    public async Task<AuthOutcome> AuthenticateAsync(string credential, bool databaseOnly, CancellationToken ct)
    {
        var jwt = await tokens.ValidateAccessTokenAsync(credential, ct);
        if (jwt is null || !Guid.TryParse(jwt.Subject, out var userId)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.SessionId, out var sid) || !Guid.TryParse(sid, out var sessionId))
            return AuthOutcome.Unknown;
        var entry = databaseOnly ? null : await Redis.GetCachedSessionAsync(userId, sessionId);
        var outcome = await CheckAsync(entry, q => q.Where(s => s.Id == sessionId && s.UserId == userId), userId,
            e => Redis.SetCachedSessionAsync(userId, sessionId, e, EntryTtl(e)), databaseOnly, ct);
        return outcome.Session is null ? outcome : outcome with { Jti = jwt.Id };
    }

    public Task<RefreshOutcome> RefreshAsync(string refreshToken, string? ip, CancellationToken ct) =>
        credentials.RotateAsync(this, refreshToken, ip, ct);

    public async Task MirrorRevokedAsync(IReadOnlyList<Session> sessions, string reason, CancellationToken ct)
    {
        foreach (var s in sessions)
            await Redis.SetCachedSessionAsync(s.UserId, s.Id, CachedSession.Tombstone(reason), TombstoneTtl(s));
    }

    public async Task MirrorUserChangedAsync(Guid userId, long version, string reason, IReadOnlyList<(Session Session, SessionSnapshot Snapshot)> live, CancellationToken ct)
    {
        foreach (var (session, snapshot) in live)
            await Redis.SetCachedSessionAsync(session.UserId, session.Id, CachedSession.Live(snapshot), LiveTtl(snapshot));
    }
}
