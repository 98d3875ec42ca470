using Microsoft.Extensions.Options;
using SessionGate.Data;
using SessionGate.Infrastructure;

namespace SessionGate.Sessions;

/// <summary>
/// The client holds only a random session id; Redis maps its hash to the session. The gateway turns the
/// session into a short-lived internal JWT, so no JWT ever reaches the client.
/// </summary>
public sealed class OpaqueMode(AppDbContext db, RedisStore redis, TimeProvider time, IOptions<SessionLifetimeOptions> options, IServiceProvider services)
    : CachedSessionMode(db, redis, time, options, services), IAuthMode
{
    public bool AcceptsCookie => true;

    public Task<IssuedCredential> IssueAsync(Session session, SessionSnapshot snapshot, long securityVersion, CancellationToken ct)
    {
        var secret = Secrets.New();
        session.SecretHash = Secrets.Hash(secret);
        var body = new LoginResponse
        {
            TokenType = "Session",
            SessionId = secret,
            ExpiresAt = session.AbsoluteExpiresAt,
            IdleExpiresAt = session.IdleExpiresAt,
        };
        return Task.FromResult(new IssuedCredential(body, secret, session.AbsoluteExpiresAt));
    }

    public Task AfterIssueAsync(Session session, SessionSnapshot snapshot, long securityVersion, CancellationToken ct) =>
        Redis.SetOpaqueAsync(session.SecretHash!, CachedSession.Live(snapshot), LiveTtl(snapshot));

    public async Task<AuthOutcome> AuthenticateAsync(string credential, bool databaseOnly, CancellationToken ct)
    {
        if (!Secrets.IsWellFormed(credential)) return AuthOutcome.Unknown;
        var hash = Secrets.Hash(credential);
        var entry = databaseOnly ? null : await Redis.GetOpaqueAsync(hash);
        return await CheckAsync(entry, q => q.Where(s => s.SecretHash == hash), null,
            e => Redis.SetOpaqueAsync(hash, e, EntryTtl(e)), databaseOnly, ct);
    }

    public Task<RefreshOutcome> RefreshAsync(string refreshToken, string? ip, CancellationToken ct) => Task.FromResult(RefreshOutcome.NotSupported);

    public async Task MirrorRevokedAsync(IReadOnlyList<Session> sessions, string reason, CancellationToken ct)
    {
        foreach (var s in sessions.Where(s => s.SecretHash is not null))
            await Redis.SetOpaqueAsync(s.SecretHash!, CachedSession.Tombstone(reason), TombstoneTtl(s));
    }

    public async Task MirrorUserChangedAsync(Guid userId, long version, string reason, IReadOnlyList<(Session Session, SessionSnapshot Snapshot)> live, CancellationToken ct)
    {
        // The user's session index is the sessions table: rewrite each live entry with the current roles.
        foreach (var (session, snapshot) in live.Where(l => l.Session.SecretHash is not null))
            await Redis.SetOpaqueAsync(session.SecretHash!, CachedSession.Live(snapshot), LiveTtl(snapshot));
    }
}
