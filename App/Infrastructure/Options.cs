using System.ComponentModel.DataAnnotations;

namespace SessionGate.Infrastructure;

public enum AuthMode { Opaque, Blacklist, SessionCache }

public enum RedisUnavailableBehavior { FailClosed, FallbackToPostgres }

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

/// <summary>Signing and token lifetimes (<c>Jwt</c> section).</summary>
public sealed class JwtOptions
{
    /// <summary>HS256, RS256 or ES256.</summary>
    public string Algorithm { get; set; } = "ES256";

    /// <summary>The <c>iss</c> of every token.</summary>
    public string Issuer { get; set; } = "sessiongate";

    /// <summary>The <c>aud</c> of access tokens (JWT modes).</summary>
    public string Audience { get; set; } = "sessiongate";

    /// <summary>Life of an access JWT in the JWT modes.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Life of the internal JWT the gateway injects; at most 5 minutes.</summary>
    public TimeSpan InternalTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The HS256 secret (at least 32 bytes of UTF-8); required only for HS256.</summary>
    public string? HmacSecret { get; set; }

    /// <summary>Allowed clock difference when checking exp and nbf; at most 30 s.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    public static readonly string[] Algorithms = ["HS256", "RS256", "ES256"];
}

/// <summary>Session timeouts and the cookie (<c>Session</c> section).</summary>
public sealed class SessionLifetimeOptions
{
    /// <summary>Sliding limit: a session unused this long ends.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Hard limit from login, whatever the activity.</summary>
    public TimeSpan AbsoluteTimeout { get; set; } = TimeSpan.FromHours(12);

    /// <summary>Sliding expiry is written at most this often per session.</summary>
    public TimeSpan SlidingWriteInterval { get; set; } = TimeSpan.FromMinutes(1);

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

/// <summary>Redis connection and key layout (<c>Redis</c> section).</summary>
public sealed class RedisOptions
{
    /// <summary>StackExchange.Redis configuration string: one node or a cluster seed list.</summary>
    [Required] public string Configuration { get; set; } = "127.0.0.1:16379";

    /// <summary>Prefix of every key.</summary>
    public string KeyPrefix { get; set; } = "sg:";
}

/// <summary>Failed-login limits (<c>LoginLimits</c> section), shared by all instances through Redis.</summary>
public sealed class LoginLimitOptions
{
    /// <summary>Failed logins allowed per account within <see cref="Window"/>.</summary>
    public int MaxFailuresPerAccount { get; set; } = 5;

    /// <summary>Failed logins allowed per client IP within <see cref="Window"/>.</summary>
    public int MaxFailuresPerIp { get; set; } = 50;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Requests per minute per client IP to /auth (in-process backstop).</summary>
    public int RequestsPerMinutePerIp { get; set; } = 600;
}

/// <summary>Start-up data (<c>Bootstrap</c> section).</summary>
public sealed class BootstrapOptions
{
    /// <summary>At first start, creates platform admin <c>admin</c> in tenant <c>system</c> with this password.</summary>
    public string? AdminPassword { get; set; }
}

/// <summary>Demo data (<c>Demo</c> section) that scripts/run turns on.</summary>
public sealed class DemoOptions
{
    /// <summary>Seeds tenant acme with alice (tenant admin) and bob (user).</summary>
    public bool Seed { get; set; }

    public string? Password { get; set; }
}

public sealed class DatabaseOptions
{
    /// <summary>Apply EF Core migrations at start.</summary>
    public bool MigrateOnStart { get; set; }
}
