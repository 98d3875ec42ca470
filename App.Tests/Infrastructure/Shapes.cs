namespace SessionGate.Tests.Infrastructure;

// API.md's shapes that tests of several folders read (strictly, through Contract.ReadAsync / As). Named apart from the
// app's own records, so a test that imports an app namespace still reads the test's copy of the contract.

/// <summary>A page of an admin list: <c>items</c>, <c>page</c>, <c>size</c>, <c>total</c>, and <c>next</c> (pass it as <c>after</c>) where the list pages by cursor.</summary>
public sealed record ListPage<T>(T[] Items, int Page, int Size, long Total, string? Next = null);

/// <summary>An item of GET /admin/users and the body of POST /admin/users.</summary>
public sealed record AdminUser(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt);

/// <summary>An item of GET /auth/sessions: the caller's own sessions.</summary>
public sealed record MySession(Guid Id, string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt, string? Ip, string? UserAgent, bool Current);

/// <summary>GET /health/ready when it answers 200: the overall status, the mode, and each dependency's status.</summary>
public sealed record Readiness(string Status, string Mode, Dictionary<string, string> Checks);
