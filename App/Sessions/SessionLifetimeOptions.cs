namespace SessionGate.Sessions;

/// <summary>Session timeouts and the cookie (<c>Session</c> section).</summary>
public sealed class SessionLifetimeOptions
{
    /// <summary>Sliding limit: a session unused this long ends.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Hard limit from login, whatever the activity.</summary>
    public TimeSpan AbsoluteTimeout { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Sliding expiry is written at most this often per session.</summary>
    public TimeSpan SlidingWriteInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Sliding writes are batched per instance: one PostgreSQL statement at most this often carries every due session.</summary>
    public TimeSpan SlidingFlushInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// How long a session's row is kept after its absolute limit passed (then the janitor deletes it and its refresh
    /// tokens). Until then a client presenting it is told why it ended rather than that it is unknown.
    /// </summary>
    public TimeSpan RetainEndedFor { get; set; } = TimeSpan.FromDays(7);

    public CookieSettings Cookie { get; set; } = new();

    /// <summary>When a session (or refresh token) used at <paramref name="now"/> goes idle: never past its absolute limit.</summary>
    public DateTimeOffset NextIdleExpiry(DateTimeOffset now, DateTimeOffset absoluteExpiresAt)
    {
        var idle = now + IdleTimeout;
        return idle < absoluteExpiresAt ? idle : absoluteExpiresAt;
    }

    public sealed class CookieSettings
    {
        /// <summary>Name of the session cookie (Opaque mode).</summary>
        public string Name { get; set; } = "__Host-sid";
    }
}
