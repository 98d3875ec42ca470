namespace SessionGate.Tokens;

/// <summary>
/// Publishes the public signing keys, and a minimal discovery document so stock JwtBearer can find them: it has the
/// shape of an OpenID provider's, but lists keys only (no OIDC endpoints), as its Swagger description says.
/// </summary>
public static class JwksApi
{
    public static RouteGroupBuilder MapJwksApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/.well-known").WithTags("Keys").AllowAnonymous();
        group.MapGet("/jwks.json", async (KeyRing keys, HttpContext http, CancellationToken ct) =>
        {
            var set = await keys.GetAsync(ct);
            http.Response.Headers.CacheControl = "public, max-age=60";
            return TypedResults.Text(set.Jwks, "application/json");
        }).WithName("Jwks").WithSummary("The public keys (RS256/ES256) with their kid. Never private parts or oct keys.");
        group.MapGet("/openid-configuration", (HttpContext http, IOptions<JwtOptions> jwt) =>
        {
            // The published origin comes from configuration, so a forged Host header cannot point verifiers (or a
            // cache in front of us) at someone else's keys. Only when it is not configured does the request say.
            var origin = jwt.Value.PublicOrigin?.TrimEnd('/') ?? $"{http.Request.Scheme}://{http.Request.Host}{http.Request.PathBase}";
            http.Response.Headers.CacheControl = jwt.Value.PublicOrigin is null ? "no-store" : "public, max-age=300";
            return TypedResults.Ok(new Dictionary<string, object>
            {
                ["issuer"] = jwt.Value.Issuer,
                ["jwks_uri"] = $"{origin}/.well-known/jwks.json",
                ["id_token_signing_alg_values_supported"] = new[] { jwt.Value.Algorithm },
            });
        }).WithName("Discovery").WithSummary("Issuer and jwks_uri, for JwtBearer's MetadataAddress; not an OpenID provider.")
            .WithDescription("Only what a token verifier needs to find the keys: issuer, jwks_uri and the signing algorithm. SessionGate is not an "
                + "OpenID Connect provider: there is no authorization_endpoint, token_endpoint, userinfo_endpoint or id_token, and an OIDC client "
                + "(a \"Sign in with…\" library) cannot use it. Downstream services point JwtBearer's MetadataAddress here to verify the internal "
                + "JWT (or an access token in the JWT modes); users sign in with POST /auth/login or at /account.");
        return group;
    }
}
