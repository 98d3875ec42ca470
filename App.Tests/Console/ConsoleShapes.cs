using System.Text.Json;

namespace SessionGate.Tests.AdminConsole;

// API.md's admin shapes that the console (and the tests of other areas) read, strictly: see Contract.

/// <summary>A page of a paged admin list; <c>next</c> only on the lists that hand out a keyset cursor.</summary>
public sealed record Paged<T>(T[] Items, int Page, int Size, long Total, string? Next = null);

/// <summary>An item of GET /admin/users.</summary>
public sealed record UserListed(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt);

/// <summary>GET /admin/users/{id}: the user, its failed-login state and its second factors.</summary>
public sealed record UserDetail(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt, LoginLock LoginLock, UserMfa Mfa);

public sealed record LoginLock(long Failures, bool AccountLocked, int LockedAddresses, DateTimeOffset? LockedUntil);

public sealed record UserMfa(bool Totp, int Passkeys, int RecoveryCodesLeft);

/// <summary>An item of GET /admin/audit; <c>detail</c> depends on the type (read it with <c>As&lt;T&gt;()</c>).</summary>
public sealed record AuditEntry(long Id, string Type, Guid? ActorId, Guid? SubjectId, string? Tenant, string? Ip, DateTimeOffset At, JsonElement? Detail);

/// <summary>GET /admin/roles items, and the answer of POST and PUT /admin/roles.</summary>
public sealed record AdminRole(string Name, string[] Permissions);
