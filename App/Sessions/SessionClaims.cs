using System.Security.Claims;

namespace SessionGate.Sessions;

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
    public const string Jti = "jti";

    public const string AuthenticationType = "SessionGate";

    public static Guid UserId(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(Subject)!);
    public static Guid TenantIdOf(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(TenantId)!);
    public static Guid SessionIdOf(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(SessionId)!);
    public static string[] RolesOf(this ClaimsPrincipal p) => p.FindAll(Role).Select(c => c.Value).ToArray();
    public static string[] PermissionsOf(this ClaimsPrincipal p) => p.FindAll(Permission).Select(c => c.Value).ToArray();
    public static bool IsPlatformAdmin(this ClaimsPrincipal p) =>
        p.HasClaim(Permission, Permissions.PlatformAdmin) && p.HasClaim(Tenant, Permissions.PlatformTenant);
}
