namespace SessionGate.Sessions;

/// <summary>How sessions are carried and checked (<c>Auth</c> section).</summary>
public sealed class AuthOptions
{
    /// <summary>Opaque (default), Blacklist or SessionCache.</summary>
    public AuthMode Mode { get; set; } = AuthMode.Opaque;

    /// <summary>FailClosed answers 503 while Redis is down; FallbackToPostgres checks the database instead.</summary>
    public RedisUnavailableBehavior RedisUnavailable { get; set; } = RedisUnavailableBehavior.FailClosed;

    /// <summary>Longest credential (header or cookie) that is even looked at.</summary>
    public int MaxCredentialLength { get; set; } = 8192;
}
