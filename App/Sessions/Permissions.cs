namespace SessionGate.Sessions;

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
