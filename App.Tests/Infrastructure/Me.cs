namespace SessionGate.Tests.Infrastructure;

/// <summary>GET /auth/me, as API.md defines it.</summary>
public sealed record Me(Guid UserId, string Tenant, string Username, string[] Roles, string[] Permissions, MeSession Session);

public sealed record MeSession(Guid Id, string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string Acr, string[] Amr, DateTimeOffset AuthTime);
