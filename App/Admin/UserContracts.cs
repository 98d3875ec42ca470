using System.Text.Json.Serialization;
using SessionGate.Auth;
using SessionGate.Sessions;

namespace SessionGate.Admin;

public sealed record UserView(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt);

/// <summary>The failed-login state of an account: failures in the window, whether the account-wide ceiling holds, and the addresses locked out.</summary>
public sealed record LoginLockView(long Failures, bool AccountLocked, int LockedAddresses, DateTimeOffset? LockedUntil);

public sealed record UserDetail(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt, LoginLockView LoginLock,
    UserMfaView Mfa);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateUserRequest(
    string? Username,
    [property: Description(PasswordRules.Description)] string? Password,
    [property: Description("Names of roles of the tenant (GET /admin/roles); you may only grant permissions you hold.")] string[]? Roles);

/// <summary>The fields an admin may change; anything else in the body (tenant, roles, ids) is refused.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PatchUserRequest(string? Username, string? Password,
    [property: Description("Needed only when you change your own password.")] string? CurrentPassword = null, string? DeviceToken = null);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SetRolesRequest(string[]? Roles);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BanRequest(
    [property: Description("When the ban ends; must be in the future. Absent: for good.")] DateTimeOffset? Until,
    [property: Description("Why, for the audit log (at most 500 characters).")] string? Reason);
