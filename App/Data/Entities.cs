namespace SessionGate.Data;

public enum LoginPolicy { Multiple, Single, PerDeviceType, MaxN }

public enum OnSessionLimit { KickOldest, RejectNew }

public sealed class Tenant
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required string Slug { get; set; }
    public required string Name { get; set; }
    public LoginPolicy LoginPolicy { get; set; } = LoginPolicy.Multiple;
    public int? MaxSessions { get; set; }
    public OnSessionLimit OnLimit { get; set; } = OnSessionLimit.KickOldest;
    /// <summary>Moves forward whenever a role of the tenant is created, changed or deleted; cached role sets carry it.</summary>
    public long RolesVersion { get; set; } = 1;
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Who must use a second factor: <c>none</c>, <c>admins</c> (holders of an /admin permission) or <c>all</c>.</summary>
    public string MfaPolicy { get; set; } = "none";
}

public sealed class User
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid TenantId { get; set; }
    public Tenant? Tenant { get; set; }
    public required string Username { get; set; }
    /// <summary>Lower-cased username; unique per tenant.</summary>
    public required string NormalizedUsername { get; set; }
    public required string PasswordHash { get; set; }
    public DateTimeOffset? BannedUntil { get; set; }
    public string? BanReason { get; set; }
    /// <summary>
    /// Bumped by every event that must kill access tokens already issued (kick-all, ban, role change).
    /// Access JWTs carry it; the hot path compares it with the copy mirrored in Redis.
    /// </summary>
    public long SecurityVersion { get; set; } = 1;
    public string? LastRevokeReason { get; set; }
    /// <summary>
    /// Moves forward when all of the user's sessions end at once (kick-all, ban, password change). A session is live
    /// only while its <see cref="Session.UserEpoch"/> equals this: ending a thousand sessions is one row's write, and
    /// the sessions' own rows follow within the relay's grace period.
    /// </summary>
    public long SessionEpoch { get; set; }
    /// <summary>Why the sessions of an earlier epoch ended (their tombstones' reason until their rows say it).</summary>
    public string? SessionsEndedReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public List<UserRole> Roles { get; set; } = [];
}

public sealed class Role
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid TenantId { get; set; }
    public required string Name { get; set; }
    public List<string> Permissions { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
}

public sealed class UserRole
{
    public Guid UserId { get; set; }
    public Guid RoleId { get; set; }
    public Role? Role { get; set; }
}

public sealed class Session
{
    /// <summary>The public id: safe to show in lists and admin APIs.</summary>
    public Guid Id { get; set; } = Guid.CreateVersion7();
    /// <summary>SHA-256 of the secret session id (Opaque mode); null in the JWT modes.</summary>
    public byte[]? SecretHash { get; set; }
    public Guid UserId { get; set; }
    public User? User { get; set; }
    public Guid TenantId { get; set; }
    /// <summary>The user's <see cref="User.SessionEpoch"/> when the session opened.</summary>
    public long UserEpoch { get; set; }
    public required string DeviceType { get; set; }
    public string? Ip { get; set; }
    public string? UserAgent { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset LastSeenAt { get; set; }
    public DateTimeOffset IdleExpiresAt { get; set; }
    public DateTimeOffset AbsoluteExpiresAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public string? RevokeReason { get; set; }
    /// <summary>The jti of the newest access token (JWT modes), so logout can blacklist it.</summary>
    public string? CurrentJti { get; set; }
    public DateTimeOffset? CurrentJtiExpiresAt { get; set; }
    /// <summary><c>aal1</c> or <c>aal2</c> (see <c>Sessions/SessionAssurance</c>); null on rows older than second factors (aal1).</summary>
    public string? Acr { get; set; }
    /// <summary>RFC 8176 method names (<c>pwd</c>, <c>otp</c>, <c>hwk</c>, <c>mfa</c>); null on older rows (a password).</summary>
    public string[]? Amr { get; set; }
    /// <summary>When the user last proved a factor (login, or a step-up); null on older rows (their <see cref="CreatedAt"/>).</summary>
    public DateTimeOffset? AuthTime { get; set; }
    /// <summary>The tenant requires a second factor the user had not enrolled at login: only /auth/* until one is.</summary>
    public bool MfaEnrollmentRequired { get; set; }
}

/// <summary>An opaque rotating refresh token. Its family is its session.</summary>
public sealed class RefreshToken
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public required byte[] TokenHash { get; set; }
    public Guid SessionId { get; set; }
    public Guid UserId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset IdleExpiresAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    public DateTimeOffset? ConsumedAt { get; set; }
}

/// <summary>A revoked access-token id, kept until the token would have expired anyway.</summary>
public sealed class RevokedToken
{
    public required string Jti { get; set; }
    public Guid UserId { get; set; }
    public required string Reason { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
}

public sealed class AuditEvent
{
    public long Id { get; set; }
    public required string Type { get; set; }
    public Guid? ActorId { get; set; }
    public Guid? SubjectId { get; set; }
    public Guid? TenantId { get; set; }
    public string? Ip { get; set; }
    public DateTimeOffset At { get; set; }
    public string? Detail { get; set; }
}

public sealed class SigningKey
{
    public required string Kid { get; set; }
    public required string Algorithm { get; set; }
    /// <summary>The private key as PKCS#8, protected with ASP.NET Core Data Protection.</summary>
    public required string ProtectedPrivateKey { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>Set when a newer key replaces this one; the key is still published and accepted until then.</summary>
    public DateTimeOffset? RetiresAt { get; set; }
    /// <summary>Set by an emergency revocation: the key leaves the JWKS at once and its tokens die.</summary>
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>
/// A change that must reach Redis, written in the same transaction as the change itself. The request applies it at
/// once; the relay re-applies rows that were not confirmed, and replays recent ones after Redis lost state.
/// </summary>
public sealed class OutboxMessage
{
    public long Id { get; set; }
    public required string Kind { get; set; }
    /// <summary>JSON; never holds a secret (session ids appear only as their SHA-256).</summary>
    public required string Payload { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? AppliedAt { get; set; }
    public int Attempts { get; set; }
    /// <summary>
    /// The id of the transaction that wrote the row (<c>pg_current_xact_id()</c>). Every row of a transaction older than
    /// a snapshot's xmin is visible once committed, so the relay can follow the outbox by this column without ever
    /// skipping a row that committed late, which an id cursor would.
    /// </summary>
    public long TxId { get; set; }
    /// <summary>Set when applying the row failed for a reason other than an outage: the relay goes on without it,
    /// and every instance keeps deciding the users it names by PostgreSQL until it no longer matters.</summary>
    public DateTimeOffset? SetAsideAt { get; set; }
    /// <summary>Why the last attempt failed (an exception type, never a payload).</summary>
    public string? LastError { get; set; }
    /// <summary>The change itself, when this process wrote the row (not stored): applying it needs no re-read.</summary>
    [System.ComponentModel.DataAnnotations.Schema.NotMapped]
    public object? Change { get; set; }
}

/// <summary>
/// What PostgreSQL knows of one Redis keyspace (one key prefix): the key generation in use, and how far back the
/// outbox still reaches. Redis itself carries, per master, a mark of the outbox rows it holds (see
/// <c>Sessions/RedisMarks</c>); this row is what those marks are checked against.
/// </summary>
public sealed class RedisKeyspace
{
    public required string Prefix { get; set; }
    /// <summary>Part of every cached key's name; moving it abandons everything Redis holds (rebuilt from PostgreSQL).</summary>
    public long Generation { get; set; } = 1;
    /// <summary>Transaction horizon when the generation began: nothing of it can predate a row at or above this.</summary>
    public long GenerationStart { get; set; }
    /// <summary>Outbox rows below this transaction horizon may have been deleted: a mark older than it cannot be replayed.</summary>
    public long PrunedBelow { get; set; }
    /// <summary>The instance that re-applies rows and writes the marks, while its lease lasts.</summary>
    public string? Writer { get; set; }
    public DateTimeOffset WriterUntil { get; set; }
    public DateTimeOffset ChangedAt { get; set; }
}

/// <summary>A server-side secret (such as the key that MACs session ids), protected with Data Protection.</summary>
public sealed class ServerSecret
{
    public required string Name { get; set; }
    public required string ProtectedValue { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>A rotated key: when it starts being used (null: since <see cref="CreatedAt"/>).</summary>
    public DateTimeOffset? ActiveFrom { get; set; }
    /// <summary>A rotated-out key: when it stops being honoured (null: never).</summary>
    public DateTimeOffset? RetiresAt { get; set; }
}
