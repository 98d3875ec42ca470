using System.Runtime.CompilerServices;
using Yarp.ReverseProxy.Configuration;

namespace SessionGate.Gateway;

/// <summary>
/// The phantom-token edge: YARP routes from the ReverseProxy section. Every route needs an authenticated caller
/// (the downstream is never called for anyone else), the route's <see cref="RouteRule"/> (permission, step-up) is
/// checked next, and <see cref="InternalJwtTransforms"/> replaces the client's credential with an internal JWT on
/// the way in.
/// </summary>
public static class GatewayRegistration
{
    public const string InternalJwtHeader = "X-Internal-JWT";

    public static IServiceCollection AddGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<InternalTokens>();
        services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .AddTransforms<InternalJwtTransforms>();
        return services;
    }

    public static IEndpointConventionBuilder MapGateway(this IEndpointRouteBuilder app) =>
        // Unauthenticated or revoked callers are answered by authorization; refused ones by the route's rule. Neither
        // reaches the downstream.
        app.MapReverseProxy(proxy =>
        {
            proxy.Use(CheckRouteRuleAsync);
            // What MapReverseProxy() runs by itself.
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        }).RequireAuthorization();

    // One parse per route configuration (a reload brings new RouteConfig objects, which get parsed again).
    private static readonly ConditionalWeakTable<RouteConfig, RouteRule> Rules = [];

    private static Task CheckRouteRuleAsync(HttpContext http, Func<Task> next)
    {
        var route = http.GetReverseProxyFeature().Route.Config;
        var rule = Rules.GetValue(route, r => RouteRule.From(r.Metadata, $"ReverseProxy:Routes:{r.RouteId}"));
        var time = http.RequestServices.GetRequiredService<TimeProvider>();
        return rule.Check(http.User, time.GetUtcNow()) is { } refusal ? refusal.WriteAsync(http) : next();
    }
}
