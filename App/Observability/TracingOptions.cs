namespace SessionGate.Observability;

/// <summary>Tracing options (<c>Tracing</c> section).</summary>
public sealed class TracingOptions
{
    /// <summary>Record traces (ASP.NET Core, HttpClient, Npgsql, Redis and SessionGate's spans). On by itself when an OTLP endpoint is configured.</summary>
    public bool Enabled { get; set; }

    /// <summary>Share of root traces recorded (a parent's decision is followed).</summary>
    public double SampleRatio { get; set; } = 1.0;
}
