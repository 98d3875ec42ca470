using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SessionGate.Downstream;

/// <summary>
/// Stock JwtBearer, set up the way a service behind SessionGate should verify <c>X-Internal-JWT</c> so that revocation
/// (of a session, and of a signing key) reaches it within a known bound:
/// <list type="bullet">
/// <item>the issuer, audience, type (<c>internal+jwt</c>) and algorithms are pinned, and the token is read from
/// <c>X-Internal-JWT</c> only (exactly one);</item>
/// <item>a token must carry <c>iat</c> and live at most <see cref="MaxTokenLife"/> (5 minutes): one forged with a
/// leaked key and an <c>exp</c> ten years out is refused outright;</item>
/// <item>the JWKS is re-read every <c>JwksRefreshInterval</c> (5 minutes), and IdentityModel's "last known good"
/// fallback is off, so a key SessionGate revoked stops verifying here within that;</item>
/// <item>validated tokens are cached (<see cref="CachingJsonWebTokenHandler"/>) until the earlier of <c>exp</c> and
/// <c>iat</c> + 5 minutes, and only while their key is still in the JWKS;</item>
/// <item>a per-request token (one with <c>trace_id</c>, from an <c>InternalJwtPerRequest</c> route or an exchange)
/// is single-use: its <c>jti</c> is refused the second time;</item>
/// <item>a refusal says nothing about why (<c>IncludeErrorDetails</c> off).</item>
/// </list>
/// </summary>
public static class InternalJwtBearer
{
    public const string Header = "X-Internal-JWT";

    /// <summary>The longest life (exp - iat) a token may have; SessionGate's internal JWTs live at most 5 minutes.</summary>
    public static readonly TimeSpan MaxTokenLife = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Adds the scheme from the <c>Downstream</c> section: <c>Authority</c>, <c>Issuer</c>, <c>Audience</c>,
    /// <c>Algorithms</c>, <c>CacheValidatedTokens</c>, <c>TokenCacheSize</c>, <c>JwksRefreshInterval</c>.
    /// </summary>
    public static AuthenticationBuilder AddInternalJwtBearer(this AuthenticationBuilder auth, IConfiguration config, string defaultAudience,
        Action<JwtBearerOptions>? configure = null)
    {
        var authority = (config["Downstream:Authority"] ?? "http://127.0.0.1:8080").TrimEnd('/');
        // Verify each internal JWT's signature once, then trust it from memory (see README.md).
        var cacheTokens = config.GetValue("Downstream:CacheValidatedTokens", true);
        var cacheSize = config.GetValue("Downstream:TokenCacheSize", 10_000);
        var replays = new ReplayGuard(config.GetValue("Downstream:ReplayCacheSize", 100_000));
        auth.Services.AddSingleton(replays);
        auth.AddJwtBearer(o =>
        {
            o.MetadataAddress = $"{authority}/.well-known/openid-configuration";
            o.RequireHttpsMetadata = authority.StartsWith("https", StringComparison.Ordinal);
            o.MapInboundClaims = false;
            o.IncludeErrorDetails = false;
            // ConfigurationManager's floor is 5 minutes; a key revoked at SessionGate is gone from here within it.
            o.AutomaticRefreshInterval = config.GetValue("Downstream:JwksRefreshInterval", TimeSpan.FromMinutes(5));
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = config["Downstream:Issuer"] ?? "sessiongate",
                ValidAudience = config["Downstream:Audience"] ?? defaultAudience,
                ValidAlgorithms = (config["Downstream:Algorithms"] ?? "ES256,RS256").Split(','),
                ValidTypes = ["internal+jwt"],
                ClockSkew = TimeSpan.FromSeconds(30),
                RequireExpirationTime = true,
                LifetimeValidator = ValidLifetime,
                NameClaimType = "sub",
                RoleClaimType = "roles",
            };
            o.Events = new JwtBearerEvents
            {
                // The gateway or the edge puts the token in X-Internal-JWT; nothing else is a credential here.
                OnMessageReceived = ctx =>
                {
                    var values = ctx.Request.Headers[Header];
                    ctx.Token = values.Count == 1 ? values[0] : null;
                    return Task.CompletedTask;
                },
                OnTokenValidated = ctx =>
                {
                    if (ctx.SecurityToken is JsonWebToken jwt && !replays.FirstUse(jwt)) ctx.Fail("replayed");
                    return Task.CompletedTask;
                },
            };
            if (cacheTokens)
            {
                o.TokenHandlers.Clear();
                o.TokenHandlers.Add(new CachingJsonWebTokenHandler(cacheSize) { MapInboundClaims = o.MapInboundClaims });
            }
            configure?.Invoke(o);
        });
        // IdentityModel keeps the "last known good" JWKS for an hour and validates with it whenever the current one
        // fails, a key withdrawn from the JWKS included: a revoked key would keep verifying here for that hour.
        // JwtBearer creates its configuration manager in its own post-configure, registered just above, so before this.
        auth.Services.PostConfigure<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme, o =>
        {
            if (o.ConfigurationManager is BaseConfigurationManager manager) manager.UseLastKnownGoodConfiguration = false;
        });
        return auth;
    }

    /// <summary>
    /// The stock lifetime rules (exp required and not past, nbf not ahead, both with the clock skew), plus: <c>iat</c>
    /// is required, not in the future, and at most <see cref="MaxTokenLife"/> before <c>exp</c>.
    /// </summary>
    public static bool ValidLifetime(DateTime? notBefore, DateTime? expires, SecurityToken token, TokenValidationParameters parameters)
    {
        // Validators.ValidateLifetime would call this delegate again: the rules are spelled out instead.
        var now = DateTime.UtcNow;
        var skew = parameters.ClockSkew;
        if (expires is not { } exp || now > exp + skew) return false;
        if (notBefore is { } nbf && nbf > now + skew) return false;
        if (token is not JsonWebToken jwt || !jwt.TryGetPayloadValue<long>("iat", out _)) return false;
        var iat = jwt.IssuedAt;
        return iat <= now + skew && exp - iat <= MaxTokenLife;
    }
}

/// <summary>
/// Remembers the <c>jti</c> of every per-request token (one with <c>trace_id</c>) until it expires, and refuses it the
/// second time. In-memory, so per instance: a service running several instances keeps this in a shared store (a
/// Redis <c>SET NX</c> with the token's remaining life) instead. When it cannot record a token (full), it refuses it.
/// </summary>
public sealed class ReplayGuard(int maxEntries) : IDisposable
{
    private readonly MemoryCache _seen = new(new MemoryCacheOptions { SizeLimit = maxEntries });
    private readonly Lock _gate = new();

    public bool FirstUse(JsonWebToken token)
    {
        if (!token.TryGetPayloadValue<string>("trace_id", out _)) return true;
        if (string.IsNullOrEmpty(token.Id)) return false;
        lock (_gate)
        {
            if (_seen.TryGetValue(token.Id, out _)) return false;
            _seen.Set(token.Id, true, new MemoryCacheEntryOptions
            {
                AbsoluteExpiration = new DateTimeOffset(token.ValidTo, TimeSpan.Zero) + TimeSpan.FromSeconds(30),
                Size = 1,
            });
            return _seen.TryGetValue(token.Id, out _);
        }
    }

    public void Dispose() => _seen.Dispose();
}
