namespace SessionGate.Sessions;

/// <summary>The user row as a change locks it (<c>SELECT … FOR UPDATE</c>).</summary>
public sealed record LockedUser(Guid Id, Guid TenantId, string Username, long SecurityVersion, DateTimeOffset? BannedUntil, string PasswordHash, long SessionEpoch);
