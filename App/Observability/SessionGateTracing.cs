using System.Diagnostics;
using OpenTelemetry.Trace;

namespace SessionGate.Observability;

/// <summary>
/// SessionGate's spans (authenticate, login, refresh, revoke, gateway) on one <see cref="ActivitySource"/>. Spans
/// carry ids (user, public session id, tenant) and outcomes, never a credential.
/// </summary>
public static class SessionGateTracing
{
    public const string SourceName = "SessionGate";

    public static readonly ActivitySource Source = new(SourceName);
}

/// <summary>Tracing options (<c>Tracing</c> section).</summary>
public sealed class TracingOptions
{
    /// <summary>Record traces (ASP.NET Core, HttpClient, Npgsql, Redis and SessionGate's spans). On by itself when an OTLP endpoint is configured.</summary>
    public bool Enabled { get; set; }

    /// <summary>Share of root traces recorded (a parent's decision is followed).</summary>
    public double SampleRatio { get; set; } = 1.0;
}

/// <summary>Off unless tracing is enabled (then parent-based with a ratio), decided from configuration when the provider starts.</summary>
public sealed class ConfiguredSampler : Sampler
{
    private readonly Sampler _inner;

    public ConfiguredSampler(Microsoft.Extensions.Options.IOptions<TracingOptions> options, IConfiguration configuration)
    {
        var enabled = options.Value.Enabled || !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        _inner = enabled ? new ParentBasedSampler(new TraceIdRatioBasedSampler(options.Value.SampleRatio)) : new AlwaysOffSampler();
    }

    public override SamplingResult ShouldSample(in SamplingParameters samplingParameters) => _inner.ShouldSample(samplingParameters);
}
