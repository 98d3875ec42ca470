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

    public static IEndpointConventionBuilder MapGateway(this IEndpointRouteBuilder app)
    {
        var time = app.ServiceProvider.GetRequiredService<TimeProvider>();
        // Unauthenticated or revoked callers are answered by authorization; refused ones by the route's rule. Neither
        // reaches the downstream.
        return app.MapReverseProxy(proxy =>
        {
            // The RequestDelegate form: the Func<Task> form of Use allocates a closure for `next` on every request.
            proxy.Use((http, next) => CheckRouteRuleAsync(http, next, time));
            // What MapReverseProxy() runs by itself.
            proxy.UseSessionAffinity();
            proxy.UseLoadBalancing();
            proxy.UsePassiveHealthChecks();
        }).RequireAuthorization();
    }

    // One parse per route configuration (a reload brings new RouteConfig objects, which get parsed again).
    private static readonly ConditionalWeakTable<RouteConfig, RouteRule> Rules = [];

    private static Task CheckRouteRuleAsync(HttpContext http, RequestDelegate next, TimeProvider time)
    {
        var route = http.GetReverseProxyFeature().Route.Config;
        var rule = Rules.GetValue(route, r => RouteRule.From(r.Metadata, $"ReverseProxy:Routes:{r.RouteId}"));
        return rule.Check(http.User, time.GetUtcNow()) is { } refusal ? refusal.WriteAsync(http) : next(http);
    }
}
