using SessionGate.Data;

namespace SessionGate.TokenExchange;

/// <summary>A successful exchange (RFC 8693 §2.2.1).</summary>
public sealed record TokenExchangeResponse(
    [property: Description("The new internal JWT, addressed to the requested audience.")] string AccessToken,
    [property: Description("Always urn:ietf:params:oauth:token-type:jwt.")] string IssuedTokenType,
    [property: Description("N_A: the token is not an OAuth access token for an Authorization header; send it as X-Internal-JWT.")] string TokenType,
    [property: Description("Seconds until it expires (never later than the subject token).")] long ExpiresIn);

/// <summary>An RFC 6749 §5.2 error: what OAuth clients expect from a token endpoint.</summary>
public sealed record OAuthError(string Error, string ErrorDescription);

/// <summary>
/// <c>POST /oauth/token</c>: RFC 8693 token exchange. Service A, holding the internal JWT a user's request brought it,
/// gets one for service B with the same user and claims, <c>aud</c> = B and <c>act</c> naming A, checked against the
/// live session. Errors use RFC 6749's JSON format, since OAuth clients expect it.
/// </summary>
public static partial class TokenExchangeApi
{
    public const string TokenExchangeGrant = "urn:ietf:params:oauth:grant-type:token-exchange";
    public const string JwtTokenType = "urn:ietf:params:oauth:token-type:jwt";

    public static IServiceCollection AddTokenExchange(this IServiceCollection services) => services.AddScoped<TokenExchanger>();

    public static RouteGroupBuilder MapTokenExchangeApi(this IEndpointRouteBuilder app)
    {
        var oauth = app.MapGroup("/oauth").WithTags("Token exchange");
        oauth.MapPost("/token", ExchangeAsync).WithName("TokenExchange").DisableAntiforgery()
            .WithSummary("RFC 8693 token exchange: the internal JWT service A received, for one addressed to service B.")
            .WithDescription("""
                Form body (application/x-www-form-urlencoded): grant_type=urn:ietf:params:oauth:grant-type:token-exchange,
                subject_token (the internal JWT the calling service received), subject_token_type=urn:ietf:params:oauth:token-type:jwt,
                audience (the service to call). The calling service authenticates with client_secret_basic (its client_id and secret
                from POST /admin/service-clients). The subject token must be an unexpired internal JWT of ours addressed to the
                client's own audience, the audience must be in the client's may_call, and the user's session must still be live.
                The new token carries the subject's claims, aud = audience, act = {"sub": client_id} (nesting any earlier act), its own
                jti and an exp no later than the subject's. Errors are RFC 6749 JSON {"error","error_description"}: invalid_client (401),
                invalid_request, unsupported_grant_type, invalid_grant, invalid_target, unauthorized_client (400).
                """)
            .Accepts<IFormCollection>("application/x-www-form-urlencoded")
            .Produces<TokenExchangeResponse>()
            .Produces<OAuthError>(StatusCodes.Status400BadRequest)
            .Produces<OAuthError>(StatusCodes.Status401Unauthorized)
            .ProducesProblems(503, Problems.ServiceUnavailable);
        return oauth;
    }

    private static async Task<Results<Ok<TokenExchangeResponse>, JsonHttpResult<OAuthError>>> ExchangeAsync(
        HttpContext http, TokenExchanger exchanger, AppDbContext db, CancellationToken ct)
    {
        // RFC 6749 §5.1: token responses, good or bad, are never cached.
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.Pragma = "no-cache";

        var credentials = ClientSecrets.FromBasic(http.Request.Headers.Authorization.ToString());
        var client = credentials is { } c ? await db.Set<ServiceClient>().AsNoTracking().FirstOrDefaultAsync(x => x.ClientId == c.ClientId, ct) : null;
        if (credentials is null || !ClientSecrets.Matches(client, credentials.Value.Secret))
        {
            http.Response.Headers.WWWAuthenticate = "Basic realm=\"sessiongate\"";
            return Error(StatusCodes.Status401Unauthorized, "invalid_client", "Client authentication failed (client_secret_basic).");
        }
        if (!http.Request.HasFormContentType) return Error(400, "invalid_request", "The body must be application/x-www-form-urlencoded.");
        var form = await http.Request.ReadFormAsync(ct);
        string? One(string name) => form.TryGetValue(name, out var v) && v.Count == 1 ? v[0] : null;

        if (form["grant_type"] is not [TokenExchangeGrant]) return Error(400, "unsupported_grant_type", $"grant_type must be {TokenExchangeGrant}.");
        if (One("subject_token") is not { Length: > 0 } subjectToken) return Error(400, "invalid_request", "subject_token is required (once).");
        if (One("subject_token_type") != JwtTokenType) return Error(400, "invalid_request", $"subject_token_type must be {JwtTokenType}.");
        if (form.ContainsKey("actor_token") || form.ContainsKey("actor_token_type"))
            return Error(400, "invalid_request", "actor_token is not supported: the authenticated client is the actor.");
        if (form.TryGetValue("requested_token_type", out var requested) && requested is not [JwtTokenType])
            return Error(400, "invalid_request", $"requested_token_type, when given, must be {JwtTokenType}.");
        if (form.ContainsKey("resource")) return Error(400, "invalid_target", "resource is not supported; name the service with audience.");
        if (!form.TryGetValue("audience", out var audiences) || audiences.Count == 0 || string.IsNullOrEmpty(audiences[0]))
            return Error(400, "invalid_request", "audience is required.");
        if (audiences.Count > 1) return Error(400, "invalid_target", "Exactly one audience per exchange.");
        if (!ServiceClientsApi.AudiencePattern().IsMatch(audiences[0]!)) return Error(400, "invalid_target", "That is not an audience this service issues tokens for.");

        var outcome = await exchanger.ExchangeAsync(client!, subjectToken, audiences[0]!, http, ct);
        return outcome.Response is { } ok ? TypedResults.Ok(ok) : Error(400, outcome.Error!, outcome.Description!);
    }

    private static JsonHttpResult<OAuthError> Error(int status, string error, string description) =>
        TypedResults.Json(new OAuthError(error, description), statusCode: status);
}
