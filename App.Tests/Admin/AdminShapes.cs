using System.Text.Json;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Admin;

// API.md's /admin shapes, read strictly (Contract.ReadAsync / As): a member added, renamed or dropped fails the test
// that reads it. Lists come as ListPage<T> (Infrastructure/Shapes.cs).

/// <summary>GET /admin/users/{id}: the user, its failed-login state and its second factors.</summary>
public sealed record UserDetail(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt, LoginLock LoginLock, UserMfa Mfa);

/// <summary>The failed-login state of an account (<c>login_lock</c> of GET /admin/users/{id}).</summary>
public sealed record LoginLock(long Failures, bool AccountLocked, int LockedAddresses, DateTimeOffset? LockedUntil);

/// <summary>The second factors of a user (<c>mfa</c> of GET /admin/users/{id}).</summary>
public sealed record UserMfa(bool Totp, int Passkeys, int RecoveryCodesLeft);

/// <summary>An item of GET /admin/sessions.</summary>
public sealed record AdminSession(Guid Id, Guid UserId, string Username, string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt, string? Ip);

/// <summary>An item of GET /admin/online-users: one per user with a live session.</summary>
public sealed record OnlineUser(Guid UserId, string Username, int Sessions, DateTimeOffset LastSeenAt);

/// <summary>An item of GET /admin/audit. <c>detail</c> is the event's own object (or null).</summary>
public sealed record AuditEvent(long Id, string Type, Guid? ActorId, Guid? SubjectId, string? Tenant, string? Ip, DateTimeOffset At, JsonElement? Detail)
{
    /// <summary>The <c>session_id</c> the detail names, if any.</summary>
    public Guid? SessionId => Detail is { ValueKind: JsonValueKind.Object } d && d.TryGetProperty("session_id", out var sid) ? sid.GetGuid() : null;

    /// <summary>The detail read strictly as the event type's own record.</summary>
    public T DetailAs<T>() => Detail is { } d ? d.As<T>() : throw new Xunit.Sdk.XunitException($"{Type} has no detail");
}

/// <summary>The detail of <c>login.locked</c>: which limit locked (<c>account</c>, <c>account-address</c>, ...).</summary>
public sealed record LockedDetail(string Scope);

/// <summary>The detail of <c>session-id-key.rotated</c>; <c>via</c> is <c>command</c> when the CLI rotated it.</summary>
public sealed record SessionIdKeyRotatedDetail(int KeyId, DateTimeOffset ActiveFrom, string? Via = null);

/// <summary>An item of GET /admin/tenants and the body of POST /admin/tenants.</summary>
public sealed record TenantItem(Guid Id, string Slug, string Name, string LoginPolicy, int? MaxSessions, string OnLimit, DateTimeOffset CreatedAt);

/// <summary>GET and PUT /admin/tenants/{slug}/login-policy.</summary>
public sealed record LoginPolicyBody(string Policy, int? MaxSessions, string OnLimit);

/// <summary>An item of GET /admin/roles and the body of POST and PUT /admin/roles.</summary>
public sealed record RoleItem(string Name, string[] Permissions);

/// <summary>POST /admin/keys/rotate (and its revoke): the new signing key's id.</summary>
public sealed record RotatedKey(string Kid);

/// <summary>POST /admin/keys/session-id/rotate: the new session-id key and the whole ring.</summary>
public sealed record RotatedSessionIdKey(int KeyId, DateTimeOffset ActiveFrom, SessionIdKeyInfo[] Keys);

public sealed record SessionIdKeyInfo(int Id, DateTimeOffset ActiveFrom, DateTimeOffset? RetiresAt);
