using System.Security.Claims;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.IdentityModel.JsonWebTokens;

namespace SessionGate.Downstream;

/// <summary>
/// Service A: a service behind the SessionGate gateway (or an edge with forward auth). It trusts only the
/// X-Internal-JWT header, verified by stock JwtBearer against SessionGate's JWKS (<see cref="InternalJwtBearer"/>).
/// With <c>Downstream:ServiceB:Url</c> and a service client (<c>Downstream:ClientId</c>/<c>ClientSecret</c>) it also
/// calls service B as the same user, through token exchange.
/// </summary>
public static partial class DownstreamApp
{
    public static WebApplication Build(string[] args, Action<JwtBearerOptions>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        var config = builder.Configuration;
        var authority = (config["Downstream:Authority"] ?? "http://127.0.0.1:8080").TrimEnd('/');
        // Bench only: echo the internal JWT this service received, so bench/run.sh can replay a real one.
        var exposeToken = config.GetValue("Downstream:ExposeTokenForBench", false);
        var serviceB = config["Downstream:ServiceB:Url"]?.TrimEnd('/');
        var serviceBAudience = config["Downstream:ServiceB:Audience"] ?? "service-b";

        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddInternalJwtBearer(config, "demo-api", configure);
        builder.Services.AddAuthorization();
        builder.Services.AddHttpClient("sessiongate", c => c.BaseAddress = new Uri(authority + "/"));
        if (serviceB is not null) builder.Services.AddHttpClient("service-b", c => c.BaseAddress = new Uri(serviceB + "/"));

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.Use(AuditTrail.LogAsync("a"));

        // Trivial and anonymous: the benchmark's baseline.
        app.MapGet("/ping", () => TypedResults.Text("pong"));

        // Trivial but authorized: what "gateway + downstream check" costs compared with a bare proxy.
        app.MapGet("/secure-ping", () => TypedResults.Text("pong")).RequireAuthorization();

        if (exposeToken)
        {
            app.MapGet("/__bench/internal-jwt", (HttpContext http) => TypedResults.Text(http.Request.Headers[InternalJwtBearer.Header].ToString()))
                .RequireAuthorization();
        }

        // Echoes the verified claims, and what reached this service of the client's own credentials.
        app.MapGet("/claims", (HttpContext http) => TypedResults.Ok(Echo(http))).RequireAuthorization();

        if (serviceB is not null)
        {
            var exchange = new TokenExchangeClient(
                app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("sessiongate"),
                config["Downstream:ClientId"] ?? throw new InvalidOperationException("Downstream:ClientId is required with Downstream:ServiceB:Url."),
                config["Downstream:ClientSecret"] ?? throw new InvalidOperationException("Downstream:ClientSecret is required with Downstream:ServiceB:Url."));

            // A calls B as the user: the token A received is exchanged for one addressed to B (act names A), and the
            // caller's trace goes along, so both hops show up under one trace.
            app.MapGet("/call-b", async (HttpContext http, IHttpClientFactory clients, CancellationToken ct) =>
            {
                string token;
                try
                {
                    token = await exchange.ExchangeAsync(http.Request.Headers[InternalJwtBearer.Header].ToString(), serviceBAudience, ct);
                }
                catch (TokenExchangeClient.ExchangeFailedException e) when (e.Error == "invalid_grant")
                {
                    return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "The user's session has ended.");
                }
                using var request = new HttpRequestMessage(HttpMethod.Get, "claims");
                request.Headers.Add(InternalJwtBearer.Header, token);
                if (http.Request.Headers.TraceParent is [{ } traceparent]) request.Headers.TryAddWithoutValidation("traceparent", traceparent);
                using var response = await clients.CreateClient("service-b").SendAsync(request, ct);
                var b = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct);
                return response.IsSuccessStatusCode
                    ? Results.Ok(new { a = Echo(http), b })
                    : Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Service B refused the call.");
            }).RequireAuthorization();

            // The bench's pair (bench/edge.sh): a trivial authorized call to B through an exchange per call, and the
            // same hop with no exchange and no token.
            app.MapGet("/call-b/ping", async (HttpContext http, IHttpClientFactory clients, CancellationToken ct) =>
            {
                var token = await exchange.ExchangeAsync(http.Request.Headers[InternalJwtBearer.Header].ToString(), serviceBAudience, ct);
                using var request = new HttpRequestMessage(HttpMethod.Get, "secure-ping");
                request.Headers.Add(InternalJwtBearer.Header, token);
                using var response = await clients.CreateClient("service-b").SendAsync(request, ct);
                return response.IsSuccessStatusCode ? Results.Text(await response.Content.ReadAsStringAsync(ct)) : Results.StatusCode(StatusCodes.Status502BadGateway);
            }).RequireAuthorization();
            app.MapGet("/call-b-direct", async (IHttpClientFactory clients, CancellationToken ct) =>
                TypedResults.Text(await clients.CreateClient("service-b").GetStringAsync("ping", ct))).RequireAuthorization();
        }
        return app;
    }

    /// <summary>What a service saw: the token's header, the verified claims and the client's credentials that reached it (none should).</summary>
    public static object Echo(HttpContext http)
    {
        var token = new JsonWebToken(http.Request.Headers[InternalJwtBearer.Header].ToString());
        return new
        {
            header = new { token.Kid, token.Typ, token.Alg },
            // The claims as the verified token carries them: a value stays a value, a list (roles, amr) a list, a time a number.
            claims = System.Text.Json.JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.EncodedPayload)).RootElement.Clone(),
            received = new
            {
                cookies = http.Request.Cookies.Keys.ToArray(),
                authorization = http.Request.Headers.Authorization.ToString(),
                internal_jwt_headers = http.Request.Headers[InternalJwtBearer.Header].Count,
                custom = http.Request.Headers["X-Custom"].ToString(),
            },
        };
    }
}

/// <summary>One log line per authenticated request: who, for which trace, through which services (the <c>act</c> chain).</summary>
public static partial class AuditTrail
{
    public static Func<HttpContext, RequestDelegate, Task> LogAsync(string service)
    {
        ILogger? logger = null;
        return async (http, next) =>
        {
            await next(http);
            if (http.User.Identity?.IsAuthenticated != true) return;
            logger ??= http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("SessionGate.Downstream.Audit");
            Log(logger, service, http);
        };
    }

    private static void Log(ILogger logger, string service, HttpContext http)
    {
        if (!logger.IsEnabled(LogLevel.Information)) return;
        var user = http.User;
        LogCall(logger, service, http.Request.Path, http.Response.StatusCode, user.FindFirstValue("sub"), user.FindFirstValue("sid"),
            user.FindFirstValue("jti"), user.FindFirstValue("trace_id"), user.FindFirstValue("act"));
    }

    [LoggerMessage(Level = LogLevel.Information,
        Message = "audit service={Service} path={Path} status={Status} sub={Subject} sid={SessionId} jti={Jti} trace_id={TraceId} act={Act}")]
    private static partial void LogCall(ILogger logger, string service, string path, int status, string? subject, string? sessionId, string? jti,
        string? traceId, string? act);
}

public static class DownstreamProgram
{
    public static void Main(string[] args) => DownstreamApp.Build(args).Run();
}
