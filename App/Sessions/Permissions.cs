namespace SessionGate.Sessions;

/// <summary>The permission strings that guard the API.</summary>
public static class Permissions
{
    public const string UsersRead = "users:read";
    public const string UsersWrite = "users:write";
    public const string RolesRead = "roles:read";
    public const string RolesWrite = "roles:write";
    public const string SessionsRead = "sessions:read";
    public const string SessionsKick = "sessions:kick";
    public const string AuditRead = "audit:read";
    public const string TenantWrite = "tenant:write";
    public const string ReportsRead = "reports:read";
    public const string PlatformAdmin = "platform:admin";

    /// <summary>The tenant whose admins act across tenants.</summary>
    public const string PlatformTenant = "system";

    /// <summary>Every permission a role may hold: anything else is refused (for every caller).</summary>
    public static readonly string[] All = [AuditRead, PlatformAdmin, ReportsRead, RolesRead, RolesWrite, SessionsKick, SessionsRead, TenantWrite, UsersRead, UsersWrite];
    public static readonly string[] TenantAdmin = [AuditRead, ReportsRead, RolesRead, RolesWrite, SessionsKick, SessionsRead, TenantWrite, UsersRead, UsersWrite];

    /// <summary>The permissions that make a caller an administrator of some kind (everything but reports:read).</summary>
    public static readonly string[] Administrative = [.. All.Where(p => p != ReportsRead)];

    /// <summary>Policy: the caller holds at least one administrative permission.</summary>
    public const string AnyAdmin = "admin:any";

    /// <summary>Policy: roles:read or roles:write.</summary>
    public const string RolesList = "roles:list";

    /// <summary>Policy: tenant:write or sessions:read (reading a login policy).</summary>
    public const string LoginPolicyRead = "login-policy:read";

    /// <summary>Role names starting with this belong to the system tenant only.</summary>
    public const string ReservedRolePrefix = "platform";
}
