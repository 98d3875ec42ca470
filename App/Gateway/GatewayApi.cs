
namespace SessionGate.Gateway;

/// <summary>
/// The phantom-token edge: YARP routes from the ReverseProxy section. Every route needs an authenticated caller
/// (the downstream is never called for anyone else), and <see cref="InternalJwtTransforms"/> replaces the client's
/// credential with an internal JWT on the way in.
/// </summary>
public static class GatewayApi
{
    public const string InternalJwtHeader = "X-Internal-JWT";

    public static IServiceCollection AddSessionGateGateway(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<InternalTokens>();
        services.AddReverseProxy()
            .LoadFromConfig(configuration.GetSection("ReverseProxy"))
            .AddTransforms<InternalJwtTransforms>();
        return services;
    }

    public static IEndpointConventionBuilder MapGateway(this IEndpointRouteBuilder app) =>
        // Unauthenticated or revoked callers are answered here; the downstream is never called.
        app.MapReverseProxy().RequireAuthorization();
}
