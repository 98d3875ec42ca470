using Microsoft.AspNetCore.HttpOverrides;
using SessionGate.Auth;

namespace SessionGate.Hosting;

/// <summary>The host: what every request relies on, health, start-up work and the gauges of the whole app.</summary>
public static class HostingRegistration
{
    /// <summary>What every request relies on: problem+json, JSON names, limits, trusted proxies, health, rate limits.</summary>
    public static IServiceCollection AddHosting(this IServiceCollection services)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<DependencyHealth>();
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemExceptionHandler.Customize);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.Converters.Add(new NulFreeStringConverter());
        });
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(o => o.JsonSerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        services.AddOptions<RequestLimitOptions>().BindConfiguration("Limits")
            .Validate(o => o.MaxRequestBodySize > 0, "Limits:MaxRequestBodySize must be positive.").ValidateOnStart();
        services.AddOptions<ForwardedHeadersSettings>().BindConfiguration("ForwardedHeaders");
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<ForwardedHeadersSettings>>((o, s) =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            foreach (var proxy in s.Value.KnownProxies) o.KnownProxies.Add(System.Net.IPAddress.Parse(proxy));
            foreach (var network in s.Value.KnownNetworks) o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        });
        services.AddSessionGateCors();
        services.AddListeningReport();
        HstsSettings.Register(services);
        services.AddHealthChecks()
            .AddCheck<PostgresHealthCheck>("postgres", tags: ["ready"])
            .AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        services.AddHostedService<OperationalGauges>();
        return services;
    }
}
