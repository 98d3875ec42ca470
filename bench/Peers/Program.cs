using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Microsoft.Net.Http.Headers;
using SessionGate.Bench.Peers;
using StackExchange.Redis;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Transforms;

// The peers SessionGate is compared with, on one port, each configured the way their documentation shows:
//   GET /jwt-hs/profile        stateless JwtBearer, HS256
//   GET /jwt-es/profile        stateless JwtBearer, ES256
//   GET /jwt-hs-redis/profile  JwtBearer HS256 plus one Redis EXISTS on the jti (a revocation blacklist)
//   GET /cookie/profile        AddCookie with a Redis ITicketStore (server-side session)
//   GET /ping                  anonymous, bare ASP.NET Core
//   /yarp/{**rest}             bare YARP to the sample downstream
//   /yarp-jwt/{**rest}         bare YARP adding a fixed X-Internal-JWT (set with POST /__bench/internal-jwt)
// Bench only: POST /__bench/tokens?kind=hs|es|cookie&n=256 returns n credentials, one a line. Keys are
// generated at start and never leave the process.
var builder = WebApplication.CreateBuilder(args);
var config = builder.Configuration;
// Measured like SessionGate, which the bench runs at Warning: no per-request log line. Logging__LogLevel__* wins.
builder.Logging.SetMinimumLevel(LogLevel.Warning);

var redisOptions = ConfigurationOptions.Parse(config["Redis:Configuration"] ?? "127.0.0.1:16379");
redisOptions.AbortOnConnectFail = false;
var redis = ConnectionMultiplexer.Connect(redisOptions);
builder.Services.AddSingleton<IConnectionMultiplexer>(redis);

var keys = new PeerKeys();
builder.Services.AddSingleton(keys);
var internalJwt = new InternalJwt();
builder.Services.AddSingleton(internalJwt);

// Cookie values are protected with keys generated now and kept in memory, like the signing keys.
builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
builder.Services.AddAuthentication()
    .AddJwtBearer(Peer.JwtHs, o => Peer.ConfigureJwt(o, keys.Hs, SecurityAlgorithms.HmacSha256))
    .AddJwtBearer(Peer.JwtEs, o => Peer.ConfigureJwt(o, keys.Es, SecurityAlgorithms.EcdsaSha256))
    .AddJwtBearer(Peer.JwtHsRedis, o =>
    {
        Peer.ConfigureJwt(o, keys.Hs, SecurityAlgorithms.HmacSha256);
        o.Events = new JwtBearerEvents
        {
            // The blacklist: one EXISTS per request on the token's jti.
            OnTokenValidated = async ctx =>
            {
                var jti = ctx.Principal?.FindFirstValue(JwtRegisteredClaimNames.Jti);
                if (jti is null || await redis.GetDatabase().KeyExistsAsync(Peer.JtiKeyPrefix + jti)) ctx.Fail("The token was revoked.");
            },
        };
    })
    .AddCookie(Peer.Cookie, o =>
    {
        o.Cookie.Name = Peer.CookieName;
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = Microsoft.AspNetCore.Http.SameSiteMode.Lax;
        o.ExpireTimeSpan = TimeSpan.FromMinutes(30);
        o.SlidingExpiration = true;
        o.SessionStore = new RedisTicketStore(redis, Peer.CookieKeyPrefix);
        // An API answers 401/403, it does not redirect to a login page.
        o.Events.OnRedirectToLogin = ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Task.CompletedTask;
        };
        o.Events.OnRedirectToAccessDenied = ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status403Forbidden;
            return Task.CompletedTask;
        };
    });
builder.Services.AddAuthorization(o =>
{
    foreach (var scheme in Peer.Schemes)
        o.AddPolicy(scheme, p => p.AddAuthenticationSchemes(scheme).RequireAuthenticatedUser());
});
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);

var downstream = config["Peers:DownstreamAddress"] ?? "http://127.0.0.1:18181/";
builder.Services.AddReverseProxy()
    .LoadFromMemory(
        [
            new RouteConfig
            {
                RouteId = "yarp", ClusterId = "downstream", Match = new RouteMatch { Path = "/yarp/{**rest}" },
                Transforms = [new Dictionary<string, string> { ["PathRemovePrefix"] = "/yarp" }],
            },
            new RouteConfig
            {
                RouteId = "yarp-jwt", ClusterId = "downstream", Match = new RouteMatch { Path = "/yarp-jwt/{**rest}" },
                Transforms = [new Dictionary<string, string> { ["PathRemovePrefix"] = "/yarp-jwt" }],
            },
        ],
        [
            new ClusterConfig
            {
                ClusterId = "downstream",
                Destinations = new Dictionary<string, DestinationConfig> { ["d1"] = new() { Address = downstream } },
                HttpRequest = new Yarp.ReverseProxy.Forwarder.ForwarderRequestConfig { ActivityTimeout = TimeSpan.FromSeconds(30) },
            },
        ])
    .AddTransforms(ctx =>
    {
        if (ctx.Route.RouteId != "yarp-jwt") return;
        ctx.AddRequestTransform(t =>
        {
            t.ProxyRequest.Headers.Remove(Peer.InternalJwtHeader);
            if (internalJwt.Value is { } token) t.ProxyRequest.Headers.TryAddWithoutValidation(Peer.InternalJwtHeader, token);
            return ValueTask.CompletedTask;
        });
    });

var app = builder.Build();
app.UseAuthentication();
app.UseAuthorization();

app.MapGet("/ping", () => TypedResults.Text("pong"));
app.MapGet("/jwt-hs/profile", Peer.Profile).RequireAuthorization(Peer.JwtHs);
app.MapGet("/jwt-es/profile", Peer.Profile).RequireAuthorization(Peer.JwtEs);
app.MapGet("/jwt-hs-redis/profile", Peer.Profile).RequireAuthorization(Peer.JwtHsRedis);
app.MapGet("/cookie/profile", Peer.Profile).RequireAuthorization(Peer.Cookie);

app.MapPost("/__bench/tokens", async (string? kind, int? n, HttpContext http) =>
{
    var count = n ?? 1;
    if (count is < 1 or > 10_000) return Results.BadRequest("n must be between 1 and 10000.");
    var lines = new StringBuilder();
    for (var i = 0; i < count; i++)
    {
        var principal = Peer.NewUser(i);
        var credential = kind switch
        {
            "hs" => keys.Mint(principal, keys.Hs, SecurityAlgorithms.HmacSha256),
            "es" => keys.Mint(principal, keys.Es, SecurityAlgorithms.EcdsaSha256),
            "cookie" => await Peer.CookieFor(http.RequestServices, principal),
            _ => null,
        };
        if (credential is null) return Results.BadRequest("kind must be hs, es or cookie.");
        lines.Append(credential).Append('\n');
    }
    return Results.Text(lines.ToString());
});
app.MapPost("/__bench/internal-jwt", async (HttpRequest request) =>
{
    using var reader = new StreamReader(request.Body);
    var token = (await reader.ReadToEndAsync()).Trim();
    internalJwt.Value = token.Length == 0 ? null : token;
    return Results.NoContent();
});
app.MapReverseProxy();
app.Run();

namespace SessionGate.Bench.Peers
{
    public sealed record ProfileResponse(Guid UserId, string Username, string Tenant, string[] Roles);

    public sealed class InternalJwt
    {
        private volatile string? _value;

        public string? Value
        {
            get => _value;
            set => _value = value;
        }
    }

    /// <summary>Signing keys, generated at start.</summary>
    public sealed class PeerKeys
    {
        public const string Issuer = "peers";
        public const string Audience = "peers-api";
        public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

        private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

        public SymmetricSecurityKey Hs { get; } = new(RandomNumberGenerator.GetBytes(32)) { KeyId = "hs-1" };

        public ECDsaSecurityKey Es { get; } = new(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "es-1" };

        public string Mint(ClaimsPrincipal user, SecurityKey key, string algorithm)
        {
            var now = DateTime.UtcNow;
            var claims = user.Claims.GroupBy(c => c.Type).ToDictionary(
                g => g.Key, g => g.Key == Peer.RolesClaim ? (object)g.Select(c => c.Value).ToArray() : g.First().Value);
            claims[JwtRegisteredClaimNames.Jti] = WebEncodersId();
            return _handler.CreateToken(new SecurityTokenDescriptor
            {
                Issuer = Issuer,
                Audience = Audience,
                IssuedAt = now,
                NotBefore = now,
                Expires = now + Lifetime,
                Claims = claims,
                SigningCredentials = new SigningCredentials(key, algorithm),
            });
        }

        private static string WebEncodersId() => Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(16));
    }

    public static class Peer
    {
        public const string JwtHs = "jwt-hs";
        public const string JwtEs = "jwt-es";
        public const string JwtHsRedis = "jwt-hs-redis";
        public const string Cookie = "cookie";
        public static readonly string[] Schemes = [JwtHs, JwtEs, JwtHsRedis, Cookie];

        public const string CookieName = "peer.sid";
        public const string JtiKeyPrefix = "peer:jti:";
        public const string CookieKeyPrefix = "peer:ck:";
        public const string InternalJwtHeader = "X-Internal-JWT";
        public const string RolesClaim = "roles";

        /// <summary>Stock JwtBearer with issuer, audience, lifetime, signature and algorithm checked.</summary>
        public static void ConfigureJwt(JwtBearerOptions o, SecurityKey key, string algorithm)
        {
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = PeerKeys.Issuer,
                ValidAudience = PeerKeys.Audience,
                ValidAlgorithms = [algorithm],
                IssuerSigningKey = key,
                ValidateIssuer = true,
                ValidateAudience = true,
                ValidateLifetime = true,
                RequireExpirationTime = true,
                RequireSignedTokens = true,
                ClockSkew = TimeSpan.FromSeconds(30),
                NameClaimType = "name",
                RoleClaimType = RolesClaim,
            };
        }

        public static Ok<ProfileResponse> Profile(ClaimsPrincipal user) => TypedResults.Ok(new ProfileResponse(
            Guid.Parse(user.FindFirstValue("sub")!),
            user.FindFirstValue("name")!,
            user.FindFirstValue("tenant")!,
            user.FindAll(RolesClaim).Select(c => c.Value).ToArray()));

        /// <summary>A user shaped like SessionGate's demo admin, with its own id.</summary>
        public static ClaimsPrincipal NewUser(int i) => new(new ClaimsIdentity(
            [
                new Claim("sub", Guid.NewGuid().ToString()),
                new Claim("name", i == 0 ? "alice" : $"user{i}"),
                new Claim("tenant", "acme"),
                new Claim(RolesClaim, "admin"),
            ],
            Cookie, "name", RolesClaim));

        /// <summary>Signs in through the stock cookie handler (so the ticket lands in Redis) and returns the cookie value.</summary>
        public static async Task<string> CookieFor(IServiceProvider services, ClaimsPrincipal user)
        {
            await using var scope = services.CreateAsyncScope();
            var http = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
            http.Request.Scheme = "http";
            http.Request.Host = new HostString("127.0.0.1");
            await http.SignInAsync(Cookie, user);
            foreach (var header in http.Response.Headers.SetCookie)
            {
                if (SetCookieHeaderValue.TryParse(header, out var cookie) && cookie.Name == CookieName) return cookie.Value.ToString();
            }
            throw new InvalidOperationException("The cookie handler wrote no session cookie.");
        }
    }
}
