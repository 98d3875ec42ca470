using System.Security.Cryptography;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SessionGate.Tokens;

/// <summary>Mints and validates JWTs with Microsoft.IdentityModel.JsonWebTokens.</summary>
public sealed class TokenService(KeyRing keys, IOptions<JwtOptions> options, TimeProvider time)
{
    public const string AccessTokenType = "at+jwt";
    public const string InternalTokenType = "internal+jwt";

    // Headers that would make a verifier fetch or trust a key named by the token itself.
    private static readonly string[] ForbiddenHeaders = ["jwk", "jku", "x5u", "x5c", "crit"];

    private readonly JwtOptions _jwt = options.Value;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false, MapInboundClaims = false };

    public static string NewId() => WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(16));

    /// <summary>Mints an access JWT (JWT modes) with the given claims plus iss, aud, iat, nbf and exp (never past <paramref name="notAfter"/>).</summary>
    public async Task<(string Token, DateTimeOffset ExpiresAt)> CreateAccessTokenAsync(Dictionary<string, object> claims, DateTimeOffset notAfter, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var exp = now + _jwt.AccessTokenLifetime;
        if (exp > notAfter) exp = notAfter;
        return (await CreateAsync(claims, _jwt.Audience, AccessTokenType, now, exp, ct), exp);
    }

    /// <summary>Mints an internal JWT (typ internal+jwt) for one downstream audience.</summary>
    public Task<string> CreateInternalTokenAsync(Dictionary<string, object> claims, string audience, DateTimeOffset now, DateTimeOffset exp, CancellationToken ct) =>
        CreateAsync(claims, audience, InternalTokenType, now, exp, ct);

    public TimeSpan ClockSkew => _jwt.ClockSkew;

    private async Task<string> CreateAsync(Dictionary<string, object> claims, string audience, string type, DateTimeOffset now, DateTimeOffset exp, CancellationToken ct)
    {
        var set = await keys.GetAsync(ct);
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _jwt.Issuer,
            Audience = audience,
            IssuedAt = now.UtcDateTime,
            NotBefore = now.UtcDateTime,
            Expires = exp.UtcDateTime,
            TokenType = type,
            Claims = claims,
            SigningCredentials = set.Signing,
        });
    }

    /// <summary>Validates an access JWT; null for anything that is not a valid, unexpired access token of ours.</summary>
    public Task<JsonWebToken?> ValidateAccessTokenAsync(string token, CancellationToken ct) => ValidateAsync(token, _jwt.Audience, AccessTokenType, ct);

    /// <summary>
    /// Validates an internal JWT for one audience (token exchange's subject token); null for anything that is not a
    /// valid, unexpired internal token of ours for <paramref name="audience"/>, signed by a key still in the set.
    /// </summary>
    public Task<JsonWebToken?> ValidateInternalTokenAsync(string token, string audience, CancellationToken ct) => ValidateAsync(token, audience, InternalTokenType, ct);

    private async Task<JsonWebToken?> ValidateAsync(string token, string audience, string type, CancellationToken ct)
    {
        JsonWebToken parsed;
        try
        {
            if (!_handler.CanReadToken(token)) return null;
            parsed = _handler.ReadJsonWebToken(token);
        }
        catch (Exception e) when (e is ArgumentException or SecurityTokenException or FormatException)
        {
            return null;
        }
        foreach (var h in ForbiddenHeaders)
        {
            if (parsed.TryGetHeaderValue<object>(h, out _)) return null;
        }
        var key = await keys.FindAsync(parsed.Kid, ct);
        if (key is null) return null;

        var result = await _handler.ValidateTokenAsync(parsed, new TokenValidationParameters
        {
            ValidIssuer = _jwt.Issuer,
            ValidAudience = audience,
            ValidAlgorithms = [_jwt.Algorithm],
            ValidTypes = [type],
            IssuerSigningKey = key,
            TryAllIssuerSigningKeys = false,
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            ClockSkew = _jwt.ClockSkew,
        });
        // ValidateTokenAsync does not throw on failure: only IsValid says the token is good.
        return result.IsValid ? result.SecurityToken as JsonWebToken : null;
    }
}
