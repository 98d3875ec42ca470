using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SessionGate.Downstream;

/// <summary>
/// Stock <see cref="JsonWebTokenHandler"/> validation, done once per token: a token that validates is remembered,
/// keyed by the SHA-256 of its text, until the earlier of its <c>exp</c> and <c>iat</c> + <see cref="MaxTrust"/>
/// (5 minutes); the same token then costs a hash and a lookup instead of a signature check. Only successes are
/// cached, so a token whose signature, issuer, audience, type or lifetime fails is validated (and refused) every time
/// it comes back. Plug it in with <c>JwtBearerOptions.TokenHandlers</c>.
/// </summary>
/// <remarks>
/// <para>Use one instance per authentication scheme: a hit skips the issuer, audience and type checks that the
/// first validation made against that scheme's parameters.</para>
/// <para>A hit counts only while the token's <c>kid</c> is among the signing keys of the request's parameters (JwtBearer
/// puts the JWKS it holds there), so once the JWKS is re-read without a revoked key, its tokens are validated again,
/// and refused. A token without <c>iat</c> is never cached.</para>
/// <para>The cache holds at most <c>maxEntries</c> tokens; once full, new tokens are validated but not cached
/// until expired entries make room.</para>
/// </remarks>
public sealed class CachingJsonWebTokenHandler : JsonWebTokenHandler, IDisposable
{
    // Longer tokens are validated without the cache (and JwtBearer refuses tokens over its own limit anyway).
    private const int MaxCachedTokenLength = 16 * 1024;

    /// <summary>The longest a validated token is trusted from memory after its <c>iat</c>.</summary>
    public static readonly TimeSpan MaxTrust = TimeSpan.FromMinutes(5);

    private readonly MemoryCache _cache;
    private readonly TimeProvider _time;

    public CachingJsonWebTokenHandler(int maxEntries = 10_000, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        _time = time ?? TimeProvider.System;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxEntries });
    }

    /// <summary>Entries currently held (for tests and diagnostics).</summary>
    public int Count => _cache.Count;

    public override async Task<TokenValidationResult> ValidateTokenAsync(string token, TokenValidationParameters validationParameters)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxCachedTokenLength)
            return await base.ValidateTokenAsync(token, validationParameters);

        var key = TokenKey.Of(token);
        var now = _time.GetUtcNow().UtcDateTime;
        if (_cache.TryGetValue(key, out Entry? hit) && hit is not null && now < hit.ExpiresUtc && await KeyStillPublishedAsync(hit.Token.Kid, validationParameters))
        {
            // A fresh identity per request: callers (claims transformations, say) may add to it.
            return new TokenValidationResult
            {
                IsValid = true,
                SecurityToken = hit.Token,
                ClaimsIdentity = hit.Identity.Clone(),
                Issuer = hit.Issuer,
                TokenType = hit.TokenType,
            };
        }

        var result = await base.ValidateTokenAsync(token, validationParameters);
        if (result.IsValid && result.SecurityToken is JsonWebToken jwt && result.ClaimsIdentity is { } identity)
        {
            // No exp or no iat, no caching: there would be no bound on how long the entry is trusted.
            var expires = jwt.ValidTo;
            if (jwt.IssuedAt != DateTime.MinValue && jwt.IssuedAt + MaxTrust < expires) expires = jwt.IssuedAt + MaxTrust;
            if (jwt.ValidTo != DateTime.MinValue && jwt.IssuedAt != DateTime.MinValue && expires > now)
            {
                _cache.Set(key, new Entry(jwt, identity.Clone(), result.Issuer, result.TokenType, expires),
                    new MemoryCacheEntryOptions { AbsoluteExpiration = new DateTimeOffset(expires, TimeSpan.Zero), Size = 1 });
            }
        }
        return result;
    }

    public void Dispose() => _cache.Dispose();

    // The keys the scheme trusts right now: JwtBearer hands over its configuration manager (whose JWKS it re-reads),
    // or the keys themselves. With none to compare, the cache is not trusted.
    private static async ValueTask<bool> KeyStillPublishedAsync(string? kid, TokenValidationParameters parameters)
    {
        if (string.IsNullOrEmpty(kid)) return false;
        if (parameters.IssuerSigningKey?.KeyId == kid) return true;
        if (parameters.IssuerSigningKeys is { } keys && keys.Any(k => k.KeyId == kid)) return true;
        if (parameters.ConfigurationManager is { } manager)
        {
            var configuration = await manager.GetBaseConfigurationAsync(CancellationToken.None);
            return configuration.SigningKeys.Any(k => k.KeyId == kid);
        }
        return false;
    }

    private sealed record Entry(JsonWebToken Token, System.Security.Claims.ClaimsIdentity Identity, string? Issuer, string? TokenType, DateTime ExpiresUtc);

    /// <summary>The SHA-256 of the token's UTF-8 text, as four longs (no string per lookup).</summary>
    private readonly record struct TokenKey(ulong A, ulong B, ulong C, ulong D)
    {
        public static TokenKey Of(string token)
        {
            var max = Encoding.UTF8.GetMaxByteCount(token.Length);
            byte[]? rented = null;
            var buffer = max <= 4096 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
            try
            {
                var length = Encoding.UTF8.GetBytes(token, buffer);
                Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
                SHA256.HashData(buffer[..length], hash);
                var parts = MemoryMarshal.Cast<byte, ulong>(hash);
                return new TokenKey(parts[0], parts[1], parts[2], parts[3]);
            }
            finally
            {
                if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
