using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>Logging in (passwords, hashing workers, login limits) and judging credentials (the scheme, the permission policies).</summary>
public static class AuthRegistration
{
    public static IServiceCollection AddLogin(this IServiceCollection services)
    {
        services.AddOptions<LoginLimitOptions>().BindConfiguration("LoginLimits")
            .Validate(o => o.MaxFailuresPerAccount > 0 && o.MaxFailuresPerIp > 0 && o.Window > TimeSpan.Zero && o.RequestsPerMinutePerIp > 0,
                "LoginLimits values must be positive.")
            .ValidateOnStart();
        services.Configure<PasswordHasherOptions>(o => o.IterationCount = PasswordPolicy.Iterations);
        services.AddSingleton<IPasswordHasher<User>, PasswordHasher<User>>();
        services.AddSingleton<PasswordPolicy>();
        services.AddOptions<PasswordHashingOptions>().BindConfiguration("PasswordHashing")
            .Validate(o => o.MaxConcurrency >= 0 && o.MaxQueue > 0 && o.MaxWait > TimeSpan.Zero && o.Niceness is >= 0 and <= 19,
                "PasswordHashing:MaxConcurrency must be 0 (one per core) or more, MaxQueue and MaxWait positive, Niceness 0 to 19.")
            .ValidateOnStart();
        services.AddSingleton<PasswordHashing>();
        services.AddScoped<LoginService>();
        return services;
    }

    /// <summary>The session scheme (cookie or bearer credential of the configured mode) and one policy per permission.</summary>
    public static IServiceCollection AddSessionGateAuthentication(this IServiceCollection services)
    {
        services.AddAuthentication(SessionAuthenticationHandler.SchemeName).AddSessionGate();
        services.AddOptions<SessionAuthenticationOptions>(SessionAuthenticationHandler.SchemeName)
            .Configure<IOptions<AuthOptions>, IOptions<SessionLifetimeOptions>>((o, auth, session) =>
            {
                o.Cookie.Name = session.Value.Cookie.Name;
                o.MaxCredentialLength = auth.Value.MaxCredentialLength;
                o.RedisUnavailable = auth.Value.RedisUnavailable;
            });
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, PermissionProblems>();
        var authorization = services.AddAuthorizationBuilder();
        foreach (var permission in Permissions.All.Where(p => p != Permissions.PlatformAdmin))
            authorization.AddPolicy(permission, p => p.RequireAuthenticatedUser().RequireClaim(SessionClaims.Permission, permission));
        authorization.AddPolicy(Permissions.AnyAdmin, p => p.RequireAuthenticatedUser().RequireClaim(SessionClaims.Permission, Permissions.Administrative));
        authorization.AddPolicy(Permissions.RolesList, p => p.RequireAuthenticatedUser().RequireClaim(SessionClaims.Permission, Permissions.RolesRead, Permissions.RolesWrite));
        authorization.AddPolicy(Permissions.LoginPolicyRead, p => p.RequireAuthenticatedUser().RequireClaim(SessionClaims.Permission, Permissions.TenantWrite, Permissions.SessionsRead));
        // platform:admin counts only in the system tenant, whatever a tenant admin writes into its own roles.
        authorization.AddPolicy(Permissions.PlatformAdmin, p => p.RequireAuthenticatedUser()
            .RequireClaim(SessionClaims.Permission, Permissions.PlatformAdmin)
            .RequireClaim(SessionClaims.Tenant, Permissions.PlatformTenant));
        return services;
    }
}
