using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>
/// One strategy per <see cref="AuthMode"/>: how a credential is issued, checked on the hot path, and how a committed
/// change reaches Redis. Endpoints and policies only ever see this interface.
/// </summary>
public interface IAuthMode
{
    /// <summary>Whether the session cookie is a credential (Opaque only).</summary>
    bool AcceptsCookie { get; }

    /// <summary>Whether the mode hands out refresh tokens (the JWT modes).</summary>
    bool UsesRefreshTokens { get; }

    /// <summary>Fills the mode's parts of a new (or refreshed) session inside the caller's transaction on <paramref name="db"/>.</summary>
    Task<IssuedCredential> IssueAsync(AppDbContext db, Session session, SessionIdentity identity, long securityVersion, CancellationToken ct);

    /// <summary>Warms Redis once the session is committed (best effort: a miss is rebuilt from PostgreSQL).</summary>
    Task AfterIssueAsync(Session session, SessionSnapshot snapshot, CancellationToken ct);

    /// <summary>The hot path. With <paramref name="databaseOnly"/> neither Redis nor the L1 is used.</summary>
    ValueTask<AuthOutcome> AuthenticateAsync(string credential, bool databaseOnly, CancellationToken ct);

    /// <summary>
    /// Makes Redis agree with a committed change (idempotent: the outbox relay may apply it again) and names the
    /// users whose L1 entries every instance must drop.
    /// </summary>
    Task ApplyAsync(RevocationEvent change, ISet<Guid> usersToInvalidate, CancellationToken ct);
}
