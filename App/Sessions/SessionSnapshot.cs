namespace SessionGate.Sessions;

/// <summary>
/// What the server-side modes (Opaque, SessionCache) keep per session. Roles are held as ids; their names and
/// permissions come from the tenant's <see cref="RoleSet"/>, so a role's permissions can change without touching
/// every session that holds it. <see cref="Version"/> is the user's security version when the entry was read from
/// PostgreSQL: an entry never replaces one read at a newer version.
/// </summary>
public sealed record SessionSnapshot(
    Guid UserId,
    Guid TenantId,
    Guid SessionId,
    string DeviceType,
    string Username,
    Guid[] RoleIds,
    DateTimeOffset CreatedAt,
    DateTimeOffset AbsoluteExpiresAt,
    DateTimeOffset IdleExpiresAt,
    DateTimeOffset LastTouchedAt,
    long Version,
    SessionAssurance? Assurance = null)
{
    public bool IsExpired(DateTimeOffset now) => now >= AbsoluteExpiresAt || now >= IdleExpiresAt;

    /// <summary>How long a Redis entry for it may live: never past the session's own end.</summary>
    public TimeSpan RemainingLife(DateTimeOffset now) => (IdleExpiresAt < AbsoluteExpiresAt ? IdleExpiresAt : AbsoluteExpiresAt) - now;
}
