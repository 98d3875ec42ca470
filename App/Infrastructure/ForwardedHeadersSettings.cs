namespace SessionGate.Infrastructure;

/// <summary>Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed (<c>ForwardedHeaders</c> section).</summary>
public sealed class ForwardedHeadersSettings
{
    /// <summary>Read X-Forwarded-For/-Proto from trusted proxies (loopback always counts as one once enabled).</summary>
    public bool Enabled { get; set; }

    /// <summary>Addresses of further trusted proxies.</summary>
    public string[] KnownProxies { get; set; } = [];

    /// <summary>Networks (CIDR) of further trusted proxies.</summary>
    public string[] KnownNetworks { get; set; } = [];
}
