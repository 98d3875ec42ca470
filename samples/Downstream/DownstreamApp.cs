using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace SessionGate.Downstream;

/// <summary>
/// A service behind the SessionGate gateway. It trusts only the X-Internal-JWT header, verified by stock
/// JwtBearer against SessionGate's JWKS with issuer, audience, type and algorithms pinned.
/// </summary>
public static class DownstreamApp
{
    public static WebApplication Build(string[] args, Action<JwtBearerOptions>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        var config = builder.Configuration;
        var authority = (config["Downstream:Authority"] ?? "http://127.0.0.1:8080").TrimEnd('/');
        // Verify each internal JWT's signature once, then trust it from memory until its exp (see README.md).
        var cacheTokens = config.GetValue("Downstream:CacheValidatedTokens", true);
        var cacheSize = config.GetValue("Downstream:TokenCacheSize", 10_000);
        // Bench only: echo the internal JWT this service received, so bench/run.sh can replay a real one.
        var exposeToken = config.GetValue("Downstream:ExposeTokenForBench", false);

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.MetadataAddress = $"{authority}/.well-known/openid-configuration";
            o.RequireHttpsMetadata = authority.StartsWith("https", StringComparison.Ordinal);
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = config["Downstream:Issuer"] ?? "sessiongate",
                ValidAudience = config["Downstream:Audience"] ?? "demo-api",
                ValidAlgorithms = (config["Downstream:Algorithms"] ?? "ES256,RS256").Split(','),
                ValidTypes = ["internal+jwt"],
                ClockSkew = TimeSpan.FromSeconds(30),
                NameClaimType = "sub",
                RoleClaimType = "roles",
            };
            // The gateway puts the token in X-Internal-JWT; nothing else is a credential here.
            o.Events = new JwtBearerEvents
            {
                OnMessageReceived = ctx =>
                {
                    var values = ctx.Request.Headers["X-Internal-JWT"];
                    ctx.Token = values.Count == 1 ? values[0] : null;
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
        builder.Services.AddAuthorization();

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();

        // Trivial and anonymous: the benchmark's baseline.
        app.MapGet("/ping", () => TypedResults.Text("pong"));

        // Trivial but authorized: what "gateway + downstream check" costs compared with a bare proxy.
        app.MapGet("/secure-ping", () => TypedResults.Text("pong")).RequireAuthorization();

        if (exposeToken)
        {
            app.MapGet("/__bench/internal-jwt", (HttpContext http) => TypedResults.Text(http.Request.Headers["X-Internal-JWT"].ToString()))
                .RequireAuthorization();
        }

        // Echoes the verified claims, and what reached this service of the client's own credentials.
        app.MapGet("/claims", (ClaimsPrincipal user, HttpContext http) =>
        {
            var token = new JsonWebToken(http.Request.Headers["X-Internal-JWT"].ToString());
            return TypedResults.Ok(new
            {
                header = new { token.Kid, token.Typ, token.Alg },
                claims = user.Claims.GroupBy(c => c.Type).ToDictionary(g => g.Key, g => g.Select(c => c.Value).ToArray()),
                received = new
                {
                    cookies = http.Request.Cookies.Keys.ToArray(),
                    authorization = http.Request.Headers.Authorization.ToString(),
                    internal_jwt_headers = http.Request.Headers["X-Internal-JWT"].Count,
                    custom = http.Request.Headers["X-Custom"].ToString(),
                },
            });
        }).RequireAuthorization();
        return app;
    }
}

public static class DownstreamProgram
{
    public static void Main(string[] args) => DownstreamApp.Build(args).Run();
}
