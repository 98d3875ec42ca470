using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace SessionGate.Observability;

/// <summary>Metrics (Prometheus text at <c>Metrics:Path</c>, OTLP when configured) and traces (OTLP when configured).</summary>
public static class ObservabilityExtensions
{
    public static IServiceCollection AddSessionGateTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<SessionGateMetrics>();
        services.AddHostedService<OperationalGauges>();
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
        telemetry.WithTracing(t =>
        {
            t.SetSampler<ConfiguredSampler>()
                .AddSource(SessionGateTracing.SourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/metrics") && !http.Request.Path.StartsWithSegments("/health"))
                .AddHttpClientInstrumentation()
                .AddSource("Npgsql")
                .AddRedisInstrumentation();
            if (otlp) t.AddOtlpExporter();
        });
        return services;
    }

    /// <summary>GET <c>Metrics:Path</c> (default /metrics): Prometheus text, anonymous, unless <c>Metrics:Enabled</c> is false.</summary>
    public static IEndpointRouteBuilder MapSessionGateMetrics(this WebApplication app)
    {
        if (!app.Configuration.GetValue("Metrics:Enabled", true)) return app;
        app.MapPrometheusScrapingEndpoint(app.Configuration["Metrics:Path"] ?? "/metrics").AllowAnonymous();
        return app;
    }
}
