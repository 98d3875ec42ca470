namespace SessionGate.Auth;

/// <summary>
/// Request rate limits of every instance (<c>RateLimits</c> section; the built-in ASP.NET Core limiter, so per
/// instance): per session, per session for state changes, and per client address, so that no single client can take
/// the whole machine. 0 turns a limit off.
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>Requests per second of one session (any authenticated request, gateway routes included).</summary>
    public int PerSessionPerSecond { get; set; } = 100;

    /// <summary>Requests one session may make at once above <see cref="PerSessionPerSecond"/> after a quiet spell.</summary>
    public int PerSessionBurst { get; set; } = 200;

    /// <summary>POST, PUT, PATCH and DELETE per second of one session.</summary>
    public int StateChangesPerSessionPerSecond { get; set; } = 20;

    /// <summary>State changes one session may make at once after a quiet spell.</summary>
    public int StateChangesPerSessionBurst { get; set; } = 50;

    /// <summary>Requests per second from one client address (an IPv4 address or an IPv6 /64), signed in or not.</summary>
    public int PerAddressPerSecond { get; set; } = 1000;

    /// <summary>Requests one address may make at once after a quiet spell.</summary>
    public int PerAddressBurst { get; set; } = 2000;

    /// <summary>
    /// Requests over a rate wait for their turn (at most this many per session or address) instead of being refused:
    /// a client that loops as fast as it can is slowed to the rate rather than burning CPU on refusals. Beyond, 429.
    /// </summary>
    public int QueueLimit { get; set; } = 64;
}
