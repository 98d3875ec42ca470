namespace SessionGate.Infrastructure;

/// <summary>Request limits (<c>Limits</c> section).</summary>
public sealed class RequestLimitOptions
{
    /// <summary>Largest request body (bytes) outside gateway routes; a larger one gets 413 request-too-large before it is read.</summary>
    public long MaxRequestBodySize { get; set; } = 64 * 1024;
}
