using Microsoft.AspNetCore.Cors.Infrastructure;

namespace SessionGate.Infrastructure;

/// <summary>The <c>Cors</c> section: which other origins (a single-page app's) may call <c>/auth/*</c> and <c>/api/*</c>.</summary>
public sealed class CorsSettings
{
    /// <summary>
    /// Origins (<c>scheme://host[:port]</c>, no path) that get CORS answers with credentials on <c>/auth/*</c> and
    /// <c>/api/*</c>, preflight included. Empty (the default): no CORS header is ever sent. Never <c>*</c>: a wildcard
    /// cannot carry credentials.
    /// </summary>
    public string[] AllowedOrigins { get; set; } = [];

    // An origin is exactly scheme://authority: anything more (a path, a query, user info, a wildcard) is refused.
    internal static bool IsOrigin(string? origin) =>
        !string.IsNullOrEmpty(origin) && !origin.Contains('*', StringComparison.Ordinal)
        && Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
        && string.Equals($"{uri.Scheme}://{uri.Authority}", origin.TrimEnd('/'), StringComparison.OrdinalIgnoreCase)
        && !origin.EndsWith("//", StringComparison.Ordinal);
}

/// <summary>
/// CORS with ASP.NET Core's middleware, for the listed origins only and only on the browser-facing routes
/// (<c>/auth/*</c> but <c>/auth/verify</c>, and <c>/api/*</c>): credentials allowed, preflights answered before
/// authentication and rate limits. An unlisted origin gets no <c>Access-Control-*</c> header, so its browser refuses
/// to show it anything. CORS only relaxes what a browser lets a page read; the cookie's rule (a state change that
/// carries the session cookie from another origin is 403 <c>cross-site-request</c>) is judged by the scheme as before,
/// listed origin or not.
/// </summary>
public static class CrossOrigin
{
    public const string PolicyName = "listed-origins";

    public static IServiceCollection AddSessionGateCors(this IServiceCollection services)
    {
        services.AddOptions<CorsSettings>().BindConfiguration("Cors")
            .Validate(o => o.AllowedOrigins.All(CorsSettings.IsOrigin),
                "Cors:AllowedOrigins must list origins only (http or https, scheme://host[:port], no path, no *).")
            .ValidateOnStart();
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<CorsSettings>>((o, s) => o.AddPolicy(PolicyName, p => p
            .WithOrigins([.. s.Value.AllowedOrigins.Select(origin => origin.TrimEnd('/'))])
            .AllowCredentials()
            .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
            .WithHeaders("Authorization", "Content-Type", "traceparent", "tracestate")
            .WithExposedHeaders("Retry-After", "WWW-Authenticate")
            .SetPreflightMaxAge(TimeSpan.FromMinutes(10))));
        return services;
    }

    /// <summary>The CORS middleware on /auth/* and /api/*, when any origin is listed; nothing at all otherwise.</summary>
    public static IApplicationBuilder UseSessionGateCors(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<CorsSettings>>().Value.AllowedOrigins.Length == 0) return app;
        return app.UseWhen(IsBrowserRoute, branch => branch.UseCors(PolicyName));
    }

    private static bool IsBrowserRoute(HttpContext http)
    {
        var path = http.Request.Path;
        return (path.StartsWithSegments("/auth") && !path.StartsWithSegments("/auth/verify")) || path.StartsWithSegments("/api");
    }
}
