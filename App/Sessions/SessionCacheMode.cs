using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Tokens;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>
/// The client holds a minimal JWT (sub, sid, jti); the full session (roles, tenant, device) lives server-side under
/// the user's hash tag and is read on every request, so an admin's change shows on the user's next request.
/// </summary>
public sealed class SessionCacheMode : ServerSessionMode, IAuthMode
{
    private sealed record TokenSession(Guid UserId, Guid SessionId);

    private readonly JwtCredentials _credentials;
    private readonly VerifiedTokens<TokenSession> _verified;

    public SessionCacheMode(ServerSessionServices services, JwtCredentials credentials, TokenService tokens, KeyRing keys,
        LocalCache cache, InvalidationBus bus) : base(services)
    {
        _credentials = credentials;
        _verified = new VerifiedTokens<TokenSession>(tokens, keys, services.Time, cache, bus);
    }

    public bool AcceptsCookie => false;

    public bool UsesRefreshTokens => true;

    public Task<IssuedCredential> IssueAsync(AppDbContext db, Session session, SessionIdentity identity, long securityVersion, CancellationToken ct) =>
        _credentials.IssueAsync(db, session, new Dictionary<string, object>
        {
            [SessionClaims.Subject] = identity.UserId.ToString(),
            [SessionClaims.SessionId] = identity.SessionId.ToString(),
        }, ct);

    public async ValueTask<AuthOutcome> AuthenticateAsync(string credential, bool databaseOnly, CancellationToken ct)
    {
        var token = await _verified.GetAsync(credential, Read, ct);
        if (token is null) return AuthOutcome.Unknown;
        return await CheckAsync(new SessionRef(CredentialKey.Of(token.SessionId), null, token.UserId, token.SessionId), databaseOnly, ct);
    }

    private static TokenSession? Read(JsonWebToken jwt) =>
        Guid.TryParse(jwt.Subject, out var userId)
        && jwt.TryGetPayloadValue<string>(SessionClaims.SessionId, out var sid) && Guid.TryParse(sid, out var sessionId)
            ? new TokenSession(userId, sessionId)
            : null;

    protected override RedisKey KeyOf(in SessionRef session) => Redis.SessionKey(session.UserId, session.SessionId);
    protected override RedisKey KeyOf(Session row) => Redis.SessionKey(row.UserId, row.Id);
    protected override RedisKey KeyOf(RevokedSession revoked) => Redis.SessionKey(revoked.UserId, revoked.Id);

    protected override CredentialKey? LocalKeyOf(Guid sessionId, byte[]? secretHash) => CredentialKey.Of(sessionId);

    protected override IQueryable<Session> Find(AppDbContext db, SessionRef session)
    {
        var (userId, sessionId) = (session.UserId, session.SessionId);
        return db.Sessions.Where(s => s.Id == sessionId && s.UserId == userId);
    }
}
