using Microsoft.OpenApi;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Serilog;

namespace SessionGate.Observability;

/// <summary>Metrics (Prometheus text at <c>Metrics:Path</c>, OTLP when configured) and traces (OTLP when configured).</summary>
public static class ObservabilityExtensions
{
    public static IServiceCollection AddObservability(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSessionGateLogging();
        services.AddSingleton<SessionGateMetrics>();
        services.AddOptions<TracingOptions>().BindConfiguration("Tracing")
            .Validate(o => o.SampleRatio is >= 0 and <= 1, "Tracing:SampleRatio must be between 0 and 1.").ValidateOnStart();
        services.AddSingleton<ConfiguredSampler>();
        // The standard OTEL_EXPORTER_OTLP_* variables configure the exporter; an endpoint turns it on.
        var otlp = !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = services.AddOpenTelemetry().ConfigureResource(r => r.AddService("SessionGate"));
        telemetry.WithMetrics(m =>
        {
            m.AddMeter(SessionGateMetrics.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 1000);
            if (otlp) m.AddOtlpExporter();
        });
        // Without tracing, no tracer provider at all: its listeners alone make ASP.NET Core and every proxied
        // HttpClient call build an Activity per request only to drop it (the gateway went from 0.59x to 0.73x of bare YARP).
        // Settings that tests add through WebApplicationFactory come too late for this; they call AddSessionGateTracing.
        if (!configuration.GetValue("Tracing:Enabled", false) && !otlp) return services;
        telemetry.WithTracing(t =>
        {
            t.AddSessionGateTracing();
            if (otlp) t.AddOtlpExporter();
        });
        return services;
    }

    /// <summary>SessionGate's spans and the instrumentation around them, sampled by <see cref="ConfiguredSampler"/>.</summary>
    public static TracerProviderBuilder AddSessionGateTracing(this TracerProviderBuilder tracing) => tracing
        .SetSampler<ConfiguredSampler>()
        .AddSource(SessionGateTracing.SourceName)
        .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/metrics") && !http.Request.Path.StartsWithSegments("/health"))
        .AddHttpClientInstrumentation()
        .AddSource("Npgsql")
        .AddRedisInstrumentation();

    /// <summary>
    /// GET <c>Metrics:Path</c> (default /metrics): Prometheus text, anonymous, unless <c>Metrics:Enabled</c> is false.
    /// It tells when revocation writes fail or a flood works, so it is served on the management listener only.
    /// </summary>
    public static IEndpointRouteBuilder MapMetrics(this WebApplication app)
    {
        if (!app.Configuration.GetValue("Metrics:Enabled", true)) return app;
        app.MapPrometheusScrapingEndpoint(app.Configuration["Metrics:Path"] ?? "/metrics").AllowAnonymous()
            .WithMetadata(SessionGate.Infrastructure.ManagementEndpoint.Only)
            // A scrape endpoint is no route handler: it says what it answers in the document itself.
            .WithOpenApiOperation((doc, _) => OpenApiDocs.ManagementOperation(doc, "Metrics", "Metrics",
                "Prometheus text exposition; every series is named sessiongate_*.", new OpenApiResponses
                {
                    ["200"] = new OpenApiResponse
                    {
                        Description = "The metrics.",
                        Content = new Dictionary<string, IOpenApiMediaType> { ["text/plain"] = new OpenApiMediaType() },
                    },
                }));
        return app;
    }

    /// <summary>
    /// Each host gets its own logger (the static Log.Logger is left alone), so several instances in one process, as in
    /// the tests, never write into each other's sinks.
    /// </summary>
    private static IServiceCollection AddSessionGateLogging(this IServiceCollection services) => CachedLoggerFactory.Decorate(services.AddSerilog((sp, log) => log
            .ReadFrom.Configuration(sp.GetRequiredService<IConfiguration>())
            .ReadFrom.Services(sp)
            .Enrich.FromLogContext()
            .WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture),
        preserveStaticLogger: true));

}
