namespace SessionGate.Tokens;

/// <summary>Signing and token lifetimes (<c>Jwt</c> section).</summary>
public sealed class JwtOptions
{
    /// <summary>HS256, RS256 or ES256.</summary>
    public string Algorithm { get; set; } = "ES256";

    /// <summary>The <c>iss</c> of every token.</summary>
    public string Issuer { get; set; } = "sessiongate";

    /// <summary>
    /// Where verifiers reach this service (e.g. <c>https://auth.example.com</c>): the discovery document's
    /// <c>jwks_uri</c> is built from it. Set it in production; unset, the request's own origin is used and the
    /// document is not cacheable.
    /// </summary>
    public string? PublicOrigin { get; set; }

    /// <summary>The <c>aud</c> of access tokens (JWT modes).</summary>
    public string Audience { get; set; } = "sessiongate";

    /// <summary>Life of an access JWT in the JWT modes.</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Life of the internal JWT the gateway injects; at most 5 minutes.</summary>
    public TimeSpan InternalTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Life of the internal JWT minted per request on routes with <c>InternalJwtPerRequest</c>; at most 60 s.</summary>
    public TimeSpan PerRequestTokenLifetime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The HS256 secret (at least 32 bytes of UTF-8); required only for HS256.</summary>
    public string? HmacSecret { get; set; }

    /// <summary>Allowed clock difference when checking exp and nbf; at most 30 s.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    public static readonly string[] Algorithms = ["HS256", "RS256", "ES256"];
}
