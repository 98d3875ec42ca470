using System.Text.Json;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;
using Serilog;
using SessionGate.Admin;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Events;
using SessionGate.ForwardAuth;
using SessionGate.Gateway;
using SessionGate.Mfa;
using SessionGate.Observability;
using SessionGate.Revocation;
using SessionGate.Sessions;
using SessionGate.TokenExchange;
using SessionGate.Tokens;

namespace SessionGate.Infrastructure;

public static class ServiceRegistration
{
    /// <summary>
    /// The one config file sits at the repository root and is copied beside the binaries; read it from there so
    /// <c>dotnet run</c>, a published build and WebApplicationFactory all see it. Environment variables still win.
    /// </summary>
    public static WebApplicationBuilder AddSessionGateConfiguration(this WebApplicationBuilder builder)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        // Lowest precedence: re-add every other source after it (adding is what makes a source load).
        var others = builder.Configuration.Sources.ToList();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddJsonFile(path, optional: true, reloadOnChange: false);
        foreach (var source in others) builder.Configuration.Sources.Add(source);
        return builder;
    }

    /// <summary>Every feature, each registered by its own folder.</summary>
    public static IServiceCollection AddSessionGate(this IServiceCollection services, IConfiguration configuration) => services
        .AddSessionGateHttp()
        .AddSessionGateData()
        .AddRevocationPipeline()   // hosted services start in this order: invalidation and relay before the rest
        .AddSessionGateTokens()
        .AddSessions()
        .AddLogin()
        .AddSecondFactors()
        .AddSessionGateAuthentication()
        .AddScoped<AdminContext>()
        .AddSessionGateSwagger()
        .AddSessionGateGateway(configuration)
        .AddForwardAuth()
        .AddTokenExchange()
        .AddSessionGateTelemetry(configuration)
        .AddSessionEvents()
        .AddSessionGateLogging();

    /// <summary>What every request relies on: problem+json, JSON names, limits, trusted proxies, health, rate limits.</summary>
    public static IServiceCollection AddSessionGateHttp(this IServiceCollection services)
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
        services.AddSessionGateRateLimits();
        services.AddSessionGateCors();
        services.AddListeningReport();
        HstsSettings.Register(services);
        SessionIdKeyOptions.Register(services);
        services.AddHealthChecks()
            .AddCheck<PostgresHealthCheck>("postgres", tags: ["ready"])
            .AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return services;
    }

    /// <summary>
    /// Each host gets its own logger (the static Log.Logger is left alone), so several instances in one process, as in
    /// the tests, never write into each other's sinks.
    /// </summary>
    public static IServiceCollection AddSessionGateLogging(this IServiceCollection services) => CachedLoggerFactory.Decorate(services.AddSerilog((sp, log) => log
            .ReadFrom.Configuration(sp.GetRequiredService<IConfiguration>())
            .ReadFrom.Services(sp)
            .Enrich.FromLogContext()
            .WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture),
        preserveStaticLogger: true));

    /// <summary>One line per request with the status the client got (see <see cref="RequestLog"/>).</summary>
    public static IApplicationBuilder UseSessionGateRequestLogging(this IApplicationBuilder app) => app.UseMiddleware<RequestLog>();

    /// <summary>Believes X-Forwarded-For/-Proto from trusted proxies, when <c>ForwardedHeaders:Enabled</c>.</summary>
    public static IApplicationBuilder UseTrustedForwardedHeaders(this WebApplication app) =>
        app.Services.GetRequiredService<IOptions<ForwardedHeadersSettings>>().Value.Enabled ? app.UseForwardedHeaders() : app;

    /// <summary>NUL-free input, body limits, and the headers every response carries (see <see cref="RequestHygiene"/>).</summary>
    public static IApplicationBuilder UseRequestHygiene(this IApplicationBuilder app) => app.UseMiddleware<RequestHygiene>();
}
