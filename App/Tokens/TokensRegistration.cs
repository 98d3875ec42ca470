using System.Text;
using SessionGate.Data;

namespace SessionGate.Tokens;

/// <summary>Signing keys and the JWTs signed with them.</summary>
public static class TokensRegistration
{
    public static IServiceCollection AddTokens(this IServiceCollection services)
    {
        services.AddOptions<JwtOptions>().BindConfiguration("Jwt")
            .Validate(o => JwtOptions.Algorithms.Contains(o.Algorithm), "Jwt:Algorithm must be HS256, RS256 or ES256.")
            .Validate(o => o.Algorithm != "HS256" || (o.HmacSecret is not null && Encoding.UTF8.GetByteCount(o.HmacSecret) >= 32),
                "Jwt:HmacSecret must be at least 256 bits (32 bytes) when Jwt:Algorithm is HS256.")
            .Validate(o => o.InternalTokenLifetime > TimeSpan.Zero && o.InternalTokenLifetime <= TimeSpan.FromMinutes(5),
                "Jwt:InternalTokenLifetime must be positive and at most 00:05:00.")
            .Validate(o => o.AccessTokenLifetime > TimeSpan.Zero, "Jwt:AccessTokenLifetime must be positive.")
            .Validate(o => o.PublicOrigin is null || Uri.TryCreate(o.PublicOrigin, UriKind.Absolute, out _), "Jwt:PublicOrigin must be an absolute URL.")
            .Validate(o => o.PerRequestTokenLifetime > TimeSpan.Zero && o.PerRequestTokenLifetime <= TimeSpan.FromSeconds(60),
                "Jwt:PerRequestTokenLifetime must be positive and at most 00:01:00.")
            .Validate(o => o.ClockSkew >= TimeSpan.Zero && o.ClockSkew <= TimeSpan.FromSeconds(30), "Jwt:ClockSkew must be between 0 and 30 seconds.")
            // A downstream that verifies an HS256 internal JWT holds the secret, and could mint access tokens with it.
            .Validate<IConfiguration>((o, c) => o.Algorithm != "HS256" || !c.GetSection("ReverseProxy:Routes").GetChildren().Any(),
                "Jwt:Algorithm HS256 cannot be used with gateway routes (ReverseProxy:Routes): a downstream holding the secret could mint tokens. Use ES256 or RS256.")
            .ValidateOnStart();
        services.AddStoredSecret<SigningKey>(KeyRing.ProtectorPurpose, db => db.SigningKeys, k => k.ProtectedPrivateKey, (k, v) => k.ProtectedPrivateKey = v);
        services.AddSingleton<KeyRing>();
        services.AddHostedService(sp => sp.GetRequiredService<KeyRing>());
        services.AddSingleton<TokenService>();
        return services;
    }
}
