using SessionGate.Auth;

namespace SessionGate.Admin;

/// <summary>Administration: the per-request admin context, and the bootstrap and demo data seeded at start.</summary>
public static class AdminRegistration
{
    public static IServiceCollection AddAdmin(this IServiceCollection services)
    {
        services.AddOptions<BootstrapOptions>().BindConfiguration("Bootstrap")
            .Validate(o => string.IsNullOrEmpty(o.AdminPassword) || PasswordPolicy.Weakness(o.AdminPassword, "admin") is null,
                "Bootstrap:AdminPassword is too weak (at least 12 characters).")
            .ValidateOnStart();
        services.AddScoped<AdminContext>();
        return services;
    }
}
