using OpenTelemetry.Trace;

namespace SessionGate.Observability;

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
