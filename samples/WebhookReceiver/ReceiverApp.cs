using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.IdentityModel.Tokens;

namespace SessionGate.WebhookReceiver;

/// <summary>
/// A downstream service that verifies SessionGate's access JWTs itself (Blacklist mode, no gateway in between) and
/// listens to SessionGate's webhooks, so that it refuses a revoked token before its <c>exp</c> and drops what it
/// cached about a user when that user changes.
/// <list type="bullet">
/// <item><c>POST /webhooks/sessiongate</c>: a Standard Webhooks delivery; the signature is checked (any of the
/// signatures in the header, as the specification says), repeats are ignored by <c>webhook-id</c>, and then
/// <c>session.ended</c> revokes the session's tokens and <c>user.roles_changed</c>, <c>user.banned</c> and
/// <c>user.deleted</c> drop the user's cache and refuse the user's older tokens;</item>
/// <item><c>GET /api/profile</c>: the caller's per-user data, computed once and cached.</item>
/// </list>
/// </summary>
public static class ReceiverApp
{
    public static WebApplication Build(string[] args, Action<JwtBearerOptions>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        var config = builder.Configuration;
        var authority = (config["Receiver:Authority"] ?? "http://127.0.0.1:8080").TrimEnd('/');
        var secret = config["Receiver:WebhookSecret"] ?? throw new InvalidOperationException("Receiver:WebhookSecret is required (the whsec_ secret shown when the webhook was registered).");
        // A revoked session is remembered as long as one of its access tokens could still be valid.
        var remember = config.GetValue("Receiver:AccessTokenLifetime", TimeSpan.FromMinutes(15)) + TimeSpan.FromSeconds(30);

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<SessionSignals>();
        builder.Services.AddMemoryCache();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
        {
            o.MetadataAddress = $"{authority}/.well-known/openid-configuration";
            o.RequireHttpsMetadata = authority.StartsWith("https", StringComparison.Ordinal);
            o.MapInboundClaims = false;
            o.TokenValidationParameters = new TokenValidationParameters
            {
                ValidIssuer = config["Receiver:Issuer"] ?? "sessiongate",
                ValidAudience = config["Receiver:Audience"] ?? "sessiongate",
                ValidAlgorithms = ["ES256", "RS256"],
                ValidTypes = ["at+jwt"],
                ClockSkew = TimeSpan.FromSeconds(30),
            };
            o.Events = new JwtBearerEvents
            {
                // The signature and exp are fine; what the webhooks said may still revoke it.
                OnTokenValidated = ctx =>
                {
                    var signals = ctx.HttpContext.RequestServices.GetRequiredService<SessionSignals>();
                    var user = ctx.Principal!;
                    if (!Guid.TryParse(user.FindFirstValue("sub"), out var userId) || !Guid.TryParse(user.FindFirstValue("sid"), out var sessionId)
                        || !long.TryParse(user.FindFirstValue("iat"), out var iat))
                        ctx.Fail("The token lacks sub, sid or iat.");
                    else if (signals.IsRevoked(userId, sessionId, DateTimeOffset.FromUnixTimeSeconds(iat)))
                        ctx.Fail("The session ended or the user changed after this token was issued.");
                    return Task.CompletedTask;
                },
            };
            configure?.Invoke(o);
        });
        builder.Services.AddAuthorization();

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapPost("/webhooks/sessiongate", async (HttpRequest request, SessionSignals signals, IMemoryCache cache) =>
        {
            using var reader = new StreamReader(request.Body);
            var body = await reader.ReadToEndAsync();
            if (!Verified(secret, body, request.Headers)) return Results.Unauthorized();
            var id = request.Headers["webhook-id"].ToString();
            if (!signals.FirstTime(id, TimeSpan.FromHours(48))) return Results.NoContent(); // a repeat: already handled
            using var json = JsonDocument.Parse(body);
            var type = json.RootElement.GetProperty("type").GetString();
            var data = json.RootElement.GetProperty("data");
            var userId = data.GetProperty("user_id").GetGuid();
            var at = json.RootElement.GetProperty("timestamp").GetDateTimeOffset();
            switch (type)
            {
                case "session.ended":
                    signals.SessionEnded(data.GetProperty("session_id").GetGuid(), remember);
                    cache.Remove(ProfileKey(userId));
                    break;
                case "user.roles_changed" or "user.banned" or "user.deleted":
                    signals.UserChanged(userId, at);
                    cache.Remove(ProfileKey(userId));
                    break;
            }
            return Results.NoContent();
        });

        app.MapGet("/api/profile", (ClaimsPrincipal user, IMemoryCache cache, TimeProvider time) =>
        {
            var userId = Guid.Parse(user.FindFirstValue("sub")!);
            // Per-user data worth caching (a stand-in for a database read): dropped when a webhook says the user changed.
            var profile = cache.GetOrCreate(ProfileKey(userId), entry =>
            {
                entry.AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(10);
                return new Profile(userId, user.FindAll("roles").Select(c => c.Value).ToArray(), time.GetUtcNow());
            })!;
            return Results.Ok(profile);
        }).RequireAuthorization();

        return app;
    }

    public sealed record Profile(Guid UserId, string[] Roles, DateTimeOffset CachedAt);

    private static string ProfileKey(Guid userId) => $"profile:{userId:N}";

    /// <summary>
    /// Standard Webhooks: a header may carry several space-separated signatures (while a secret is rotated); any one
    /// that matches will do. The library checks the first only, so each is checked on its own.
    /// </summary>
    public static bool Verified(string secret, string body, IHeaderDictionary headers)
    {
        var webhook = new StandardWebhooks.StandardWebhook(secret);
        foreach (var signature in headers["webhook-signature"].ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var one = new HeaderDictionary
            {
                ["webhook-id"] = headers["webhook-id"],
                ["webhook-timestamp"] = headers["webhook-timestamp"],
                ["webhook-signature"] = signature,
            };
            try
            {
                webhook.Verify(body, one); // also refuses a timestamp more than 5 minutes away (replays)
                return true;
            }
            catch (StandardWebhooks.Diagnostics.WebhookVerificationException)
            {
            }
        }
        return false;
    }
}

public static class ReceiverProgram
{
    public static void Main(string[] args) => ReceiverApp.Build(args).Run();
}
