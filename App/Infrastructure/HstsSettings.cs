using Microsoft.AspNetCore.HttpsPolicy;

namespace SessionGate.Infrastructure;

/// <summary>HTTP Strict Transport Security on HTTPS responses outside Development (<c>Hsts</c> section).</summary>
public sealed class HstsSettings
{
    /// <summary><c>max-age</c>: a year, the usual minimum (and what preload lists require); 0 tells browsers to forget it.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(365);

    /// <summary>Also covers every subdomain; only when all of them serve HTTPS.</summary>
    public bool IncludeSubDomains { get; set; }

    public static IServiceCollection Register(IServiceCollection services)
    {
        services.AddOptions<HstsSettings>().BindConfiguration("Hsts")
            .Validate(o => o.MaxAge >= TimeSpan.Zero && o.MaxAge <= TimeSpan.FromDays(730), "Hsts:MaxAge must be between 0 and 730 days.")
            .ValidateOnStart();
        services.AddOptions<HstsOptions>().Configure<IOptions<HstsSettings>>((o, s) =>
        {
            o.MaxAge = s.Value.MaxAge;
            o.IncludeSubDomains = s.Value.IncludeSubDomains;
        });
        return services;
    }
}
