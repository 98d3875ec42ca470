using System.Security.Claims;
using System.Text.Json.Serialization;

namespace SessionGate.Sessions;

/// <summary>
/// What a request needs to know about its session; cached in Redis in Opaque and SessionCache modes.
/// <see cref="Version"/> is the user's security version when the roles were read: an entry never replaces a newer one.
/// </summary>
public sealed record SessionSnapshot(
    Guid UserId,
    Guid TenantId,
    string Tenant,
    string Username,
    Guid SessionId,
    string DeviceType,
    string[] Roles,
    string[] Permissions,
    DateTimeOffset CreatedAt,
    DateTimeOffset AbsoluteExpiresAt,
    DateTimeOffset IdleExpiresAt,
    DateTimeOffset LastTouchedAt,
    long Version = 0);

/// <summary>A Redis session entry: the live session, or a tombstone that names why it ended.</summary>
public sealed record CachedSession(SessionSnapshot? Session, string? Revoked)
{
    public static CachedSession Live(SessionSnapshot s) => new(s, null);
    public static CachedSession Tombstone(string reason) => new(null, reason);
}

/// <summary>A user's security version, mirrored from PostgreSQL for the JWT modes' hot path.</summary>
public sealed record UserState(long Version, string? Reason);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(CachedSession))]
[JsonSerializable(typeof(UserState))]
internal sealed partial class RedisJsonContext : JsonSerializerContext;

/// <summary>Claim names shared by the principal, the access JWT and the internal JWT.</summary>
public static class SessionClaims
{
    public const string Subject = "sub";
    public const string TenantId = "tenant_id";
    public const string Tenant = "tenant";
    public const string Name = "name";
    public const string SessionId = "sid";
    public const string Device = "device";
    public const string Role = "roles";
    public const string Permission = "permissions";
    public const string Version = "ver";
    public const string CreatedAt = "auth_time";
    public const string ExpiresAt = "session_exp";

    public const string AuthenticationType = "SessionGate";

    public static ClaimsPrincipal ToPrincipal(SessionSnapshot s)
    {
        var claims = new List<Claim>(8 + s.Roles.Length + s.Permissions.Length)
        {
            new(Subject, s.UserId.ToString()),
            new(TenantId, s.TenantId.ToString()),
            new(Tenant, s.Tenant),
            new(Name, s.Username),
            new(SessionId, s.SessionId.ToString()),
            new(Device, s.DeviceType),
            new(CreatedAt, s.CreatedAt.ToUnixTimeSeconds().ToString()),
            new(ExpiresAt, s.AbsoluteExpiresAt.ToUnixTimeSeconds().ToString()),
        };
        foreach (var r in s.Roles) claims.Add(new Claim(Role, r));
        foreach (var p in s.Permissions) claims.Add(new Claim(Permission, p));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, AuthenticationType, Name, Role));
    }

    public static Guid UserId(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(Subject)!);
    public static Guid TenantIdOf(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(TenantId)!);
    public static Guid SessionIdOf(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(SessionId)!);
    public static string[] RolesOf(this ClaimsPrincipal p) => p.FindAll(Role).Select(c => c.Value).ToArray();
    public static string[] PermissionsOf(this ClaimsPrincipal p) => p.FindAll(Permission).Select(c => c.Value).ToArray();
    public static bool IsPlatformAdmin(this ClaimsPrincipal p) =>
        p.HasClaim(Permission, Permissions.PlatformAdmin) && p.HasClaim(Tenant, Permissions.PlatformTenant);
}

/// <summary>The permission strings that guard the API.</summary>
public static class Permissions
{
    public const string UsersRead = "users:read";
    public const string UsersWrite = "users:write";
    public const string RolesWrite = "roles:write";
    public const string SessionsRead = "sessions:read";
    public const string SessionsKick = "sessions:kick";
    public const string AuditRead = "audit:read";
    public const string TenantWrite = "tenant:write";
    public const string ReportsRead = "reports:read";
    public const string PlatformAdmin = "platform:admin";

    /// <summary>The tenant whose admins act across tenants.</summary>
    public const string PlatformTenant = "system";

    public static readonly string[] All = [UsersRead, UsersWrite, RolesWrite, SessionsRead, SessionsKick, AuditRead, TenantWrite, ReportsRead, PlatformAdmin];
    public static readonly string[] TenantAdmin = [UsersRead, UsersWrite, RolesWrite, SessionsRead, SessionsKick, AuditRead, TenantWrite, ReportsRead];
}

/// <summary>Why a session ended; the values of <c>reason</c> in a session-revoked problem.</summary>
public static class RevokeReasons
{
    public const string LoggedOut = "logged-out";
    public const string Kicked = "kicked";
    public const string Replaced = "replaced";
    public const string Banned = "banned";
    public const string PasswordChanged = "password-changed";
    public const string Expired = "expired";
    public const string RolesChanged = "roles-changed";
}
