using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Tokens;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>
/// The client holds only a random session id; Redis maps its hash to the session. The gateway turns the session
/// into a short-lived internal JWT, so no JWT ever reaches the client. An id this service did not issue fails its
/// MAC and is refused without any I/O.
/// </summary>
public sealed class OpaqueMode(ServerSessionServices services, SessionSecrets secrets) : ServerSessionMode(services), IAuthMode
{
    public bool AcceptsCookie => true;

    public bool UsesRefreshTokens => false;

    public Task<IssuedCredential> IssueAsync(AppDbContext db, Session session, SessionIdentity identity, long securityVersion, CancellationToken ct)
    {
        var secret = secrets.New();
        session.SecretHash = SessionSecrets.Hash(secret);
        return Task.FromResult(new IssuedCredential(secret, session.AbsoluteExpiresAt, null, null, session.AbsoluteExpiresAt, session.IdleExpiresAt));
    }

    public ValueTask<AuthOutcome> AuthenticateAsync(string credential, bool databaseOnly, CancellationToken ct)
    {
        if (credential.Length != SessionSecrets.EncodedLength) return ValueTask.FromResult(AuthOutcome.Unknown);
        Span<byte> hash = stackalloc byte[32];
        SessionSecrets.Hash(credential, hash);
        var session = new SessionRef(CredentialKey.Of(hash), null, Guid.Empty, Guid.Empty);
        // An id already in the L1 passed its MAC when it was stored; anything else must pass it before any I/O.
        var cached = Cached(session, databaseOnly);
        if (cached is null && !secrets.IsGenuine(credential)) return ValueTask.FromResult(AuthOutcome.Unknown);
        return CheckAsync(session, cached, databaseOnly, ct);
    }

    protected override RedisKey KeyOf(in SessionRef session)
    {
        Span<byte> hash = stackalloc byte[32];
        var key = session.Key;
        System.Runtime.InteropServices.MemoryMarshal.Write(hash, in key);
        return Redis.OpaqueKey(hash);
    }

    protected override RedisKey KeyOf(Session row) => Redis.OpaqueKey(row.SecretHash);
    protected override RedisKey KeyOf(RevokedSession revoked) => Redis.OpaqueKey(revoked.SecretHash);
    protected override CredentialKey? LocalKeyOf(Guid sessionId, byte[]? secretHash) => secretHash is { Length: 32 } ? CredentialKey.Of(secretHash) : null;
    protected override bool Holds(Session row) => row.SecretHash is not null;
    protected override bool Holds(RevokedSession revoked) => revoked.SecretHash is not null;

    protected override IQueryable<Session> Find(AppDbContext db, SessionRef session)
    {
        Span<byte> hash = stackalloc byte[32];
        var key = session.Key;
        System.Runtime.InteropServices.MemoryMarshal.Write(hash, in key);
        var bytes = hash.ToArray();
        return db.Sessions.Where(s => s.SecretHash == bytes);
    }
}
