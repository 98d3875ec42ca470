using Microsoft.AspNetCore.Identity;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>Logging in (passwords, hashing workers, login limits) and judging credentials (the scheme, the permission policies).</summary>
public static class AuthRegistration
{
    public static IServiceCollection AddAuth(this IServiceCollection services)
    {
        services.AddLoginThrottling();
        services.AddOptions<PasswordHashingOptions>().BindConfiguration("PasswordHashing")
            .Validate(o => o.MaxConcurrency >= 0 && o.ReservedForKnownDevices >= 0 && o.MaxQueue > 0 && o.MaxWait > TimeSpan.Zero && o.Niceness is >= 0 and <= 19
                    && o.UnderAttackNewDeviceShare is >= 1 and <= 100,
                "PasswordHashing:MaxConcurrency must be 0 (one per core) or more, ReservedForKnownDevices 0 or more, MaxQueue and MaxWait positive, Niceness 0 to 19, UnderAttackNewDeviceShare 1 to 100.")
            .Validate(o => o.Algorithm != PasswordAlgorithm.Argon2id || (o.MeetsOwaspArgon2Minimum() && o.Argon2MemoryKiB <= 4 * 1024 * 1024),
                "PasswordHashing:Argon2MemoryKiB and Argon2Iterations must meet OWASP's argon2id minimum (19456 KiB with 2 iterations, or 47104/1, 12288/3, 9216/4, 7168/5) and the memory at most 4 GiB.")
            .Validate(o => o.Algorithm != PasswordAlgorithm.Pbkdf2 || o.Pbkdf2Iterations >= PasswordPolicy.Iterations,
                "PasswordHashing:Pbkdf2Iterations must be at least 210000 (OWASP, PBKDF2-HMAC-SHA512).")
            .ValidateOnStart();
        services.AddSingleton<IPasswordHasher<User>, Argon2PasswordHasher>();
        services.AddSingleton<PasswordPolicy>();
        services.AddSingleton<PasswordHashing>();
        services.AddScoped<LoginService>();
        return services.AddSessionGateAuthentication();
    }

    /// <summary>The session scheme (cookie or bearer credential of the configured mode) and one policy per permission.</summary>
    private static IServiceCollection AddSessionGateAuthentication(this IServiceCollection services)
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
