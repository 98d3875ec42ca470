using System.ComponentModel;

namespace SessionGate.Auth;

/// <summary>Login with tenant, username and password; device_type is web (default), mobile, desktop or api.</summary>
public sealed record LoginRequest(
    [property: DefaultValue("acme")] string? Tenant,
    [property: DefaultValue("alice")] string? Username,
    string? Password,
    [property: DefaultValue("web")] string? DeviceType);

public sealed record RefreshRequest(string? RefreshToken);

public sealed record ChangePasswordRequest(string? CurrentPassword, string? NewPassword);

public sealed record MeSession(Guid Id, string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt);

public sealed record MeResponse(Guid UserId, string Tenant, string Username, string[] Roles, string[] Permissions, MeSession Session);

public sealed record OwnSession(Guid Id, string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt, string? Ip, string? UserAgent, bool Current);

public sealed record ProfileResponse(Guid UserId, string Username, string Tenant, string[] Roles);

public sealed record ReportsResponse(string Tenant, string[] Reports);

public static class DeviceTypes
{
    public static readonly string[] All = ["web", "mobile", "desktop", "api"];
}

public static class Limits
{
    public const int MaxName = 128;
    public const int MaxPassword = 1024;
    public const int MinPassword = 12;
}
