using Microsoft.Extensions.Options;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tokens;
using Yarp.ReverseProxy.Transforms;

namespace SessionGate.Gateway;

/// <summary>
/// The phantom-token edge: YARP routes from the ReverseProxy section; every route needs an authenticated caller,
/// loses the client's own credential and any client-sent X-Internal-JWT, and gets a fresh internal JWT instead.
/// </summary>
public static class GatewayApi
{
    public const string InternalJwtHeader = "X-Internal-JWT";
    public const string AudienceMetadata = "InternalJwtAudience";

    public static IServiceCollection AddSessionGateGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .AddTransforms(ctx =>
            {
                var audience = ctx.Route.Metadata?.GetValueOrDefault(AudienceMetadata) ?? ctx.Route.RouteId;
                ctx.AddRequestTransform(async t =>
                {
                    var http = t.HttpContext;
                    var headers = t.ProxyRequest.Headers;
                    headers.Remove(InternalJwtHeader);
                    if (http.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
                        headers.Remove("Authorization");
                    var cookieName = http.RequestServices.GetRequiredService<IOptions<SessionLifetimeOptions>>().Value.Cookie.Name;
                    if (http.Request.Cookies.ContainsKey(cookieName))
                    {
                        headers.Remove("Cookie");
                        var others = string.Join("; ", http.Request.Cookies.Where(c => c.Key != cookieName).Select(c => $"{c.Key}={c.Value}"));
                        if (others.Length > 0) headers.TryAddWithoutValidation("Cookie", others);
                    }
                    var tokens = http.RequestServices.GetRequiredService<InternalTokens>();
                    headers.TryAddWithoutValidation(InternalJwtHeader, await tokens.GetAsync(http.User, audience, http.RequestAborted));
                });
                // The internal JWT is for services, never for the client, even if a downstream echoes it back.
                ctx.AddResponseTransform(t =>
                {
                    t.HttpContext.Response.Headers.Remove(InternalJwtHeader);
                    return ValueTask.CompletedTask;
                });
            });
        return services;
    }

    public static IEndpointConventionBuilder MapGateway(this IEndpointRouteBuilder app) =>
        // Unauthenticated or revoked callers are answered here; the downstream is never called.
        app.MapReverseProxy().RequireAuthorization();
}
