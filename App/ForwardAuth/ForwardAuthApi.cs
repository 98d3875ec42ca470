using SessionGate.Auth;
using SessionGate.Gateway;
using SessionGate.Sessions;

namespace SessionGate.ForwardAuth;

/// <summary>Endpoint metadata: the forward-auth endpoints (only trusted callers reach them).</summary>
public sealed class ForwardAuthEndpoint
{
    public static readonly ForwardAuthEndpoint Instance = new();
}

/// <summary>
/// <c>/auth/verify</c>: the phantom-token decision for an edge proxy you already run (nginx <c>auth_request</c>, Caddy
/// <c>forward_auth</c>, Traefik ForwardAuth, Envoy <c>ext_authz</c>). The same authentication, revocation, audience,
/// per-request token, permission and step-up rules as the built-in gateway (<see cref="RouteRule"/>,
/// <see cref="InternalTokens"/>, <see cref="UpstreamCredentials"/>); rules come from <c>ForwardAuth:Rules</c>.
/// </summary>
public static class ForwardAuthApi
{
    private static readonly string[] AllMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

    public static IServiceCollection AddForwardAuth(this IServiceCollection services)
    {
        services.AddOptions<ForwardAuthOptions>().BindConfiguration("ForwardAuth").ValidateOnStart();
        services.AddSingleton<IValidateOptions<ForwardAuthOptions>, ForwardAuthOptionsValidation>();
        services.AddSingleton<ForwardAuthRules>();
        return services;
    }

    /// <summary>
    /// Runs before forwarded headers and authentication: a caller outside <c>ForwardAuth:TrustedNetworks</c> gets 404
    /// (judged on the connection's own address); a trusted one has its original method, host and scheme applied to
    /// the request, so authentication's cross-site check judges the request the edge is asking about.
    /// </summary>
    public static IApplicationBuilder UseForwardAuth(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<ForwardAuthEndpoint>() is null) return next(http);
        http.Response.Headers.CacheControl = "no-store";
        if (!http.RequestServices.GetRequiredService<ForwardAuthRules>().Trusts(http.Connection.RemoteIpAddress))
            return Problems.WriteAsync(http, StatusCodes.Status404NotFound, Problems.NotFound);
        var original = ForwardedRequest.From(http);
        http.Features.Set(original);
        http.Request.Method = original.Method;
        http.Request.Host = original.Host;
        var scheme = http.Request.Headers[ForwardedRequest.ProtoHeader].ToString();
        if (scheme is "http" or "https") http.Request.Scheme = scheme;
        return next(http);
    });

    public static RouteGroupBuilder MapForwardAuthApi(this IEndpointRouteBuilder app)
    {
        var verify = app.MapGroup(ForwardedRequest.VerifyPath).WithTags("Forward auth").WithMetadata(ForwardAuthEndpoint.Instance);
        verify.MapGet("", VerifyAsync).WithName("ForwardAuthVerify")
            .WithSummary("Forward auth for an edge proxy: 200 with X-Internal-JWT, or the refusal the edge passes on.")
            .WithDescription("""
                For nginx auth_request, Caddy forward_auth, Traefik ForwardAuth and Envoy ext_authz (HTTP). Answers only callers in
                ForwardAuth:TrustedNetworks (default loopback); anyone else gets 404. The original request is X-Forwarded-Method,
                X-Forwarded-Host, X-Forwarded-Uri (and X-Forwarded-Proto), or this request's method and the path after /auth/verify
                (any method; Envoy's path_prefix). The credential is read as on any protected route (the session cookie or a bearer
                token). The rule with the longest matching ForwardAuth:Rules:<name>:PathPrefix (and Hosts) decides; none: 403 no-route.
                On 200 the body is empty and X-Internal-JWT, X-Upstream-Cookie (the client's cookies without the session cookie) and
                X-Upstream-Authorization (the client's Authorization unless it carried our credential) are always present, empty
                when there is nothing to send: the edge copies all three onto the request it forwards.
                """)
            .Produces(StatusCodes.Status200OK)
            .ProducesProblems(401, Problems.Unauthenticated, Problems.SessionRevoked, Problems.StepUpRequired)
            .ProducesProblems(403, Problems.Forbidden, Problems.NoRoute, Problems.CrossSiteRequest)
            .ProducesProblems(404, Problems.NotFound)
            .ProducesProblems(503, Problems.ServiceUnavailable);
        // Every other method, and the path_prefix form: the same decision, left out of the API description.
        verify.MapMethods("", AllMethods.Where(m => m != "GET"), VerifyAsync).ExcludeFromDescription();
        verify.MapMethods("/{**path}", AllMethods, VerifyAsync).ExcludeFromDescription();
        return verify;
    }

    private static async Task<Results<Ok, ChallengeHttpResult, EmptyHttpResult, ProblemHttpResult>> VerifyAsync(
        HttpContext http, ForwardAuthRules rules, InternalTokens tokens, TimeProvider time,
        IOptionsMonitor<SessionAuthenticationOptions> auth, CancellationToken ct)
    {
        var original = http.Features.Get<ForwardedRequest>() ?? throw new InvalidOperationException("UseForwardAuth() is not in the pipeline.");
        if (rules.Match(original) is not (var name, var rule))
            return Problems.Result(StatusCodes.Status403Forbidden, Problems.NoRoute, "No ForwardAuth:Rules entry covers this host and path.");
        // Authentication already ran (the handler answers the challenge: 401, session-revoked, 503, cross-site-request).
        if (http.User.Identity?.IsAuthenticated != true) return TypedResults.Challenge();
        // The enrolment gate lets /auth/* through for the session's own enrolment; what it verifies here is a service
        // behind the edge, which such a session may not reach (as through the built-in gateway).
        if (http.User.IsEnrolmentOnly())
            return Problems.Result(StatusCodes.Status403Forbidden, Problems.MfaEnrollmentRequired,
                "Your tenant requires a second factor: enrol one (at /account/security, or POST /auth/mfa/totp) first.");
        if (rule.Check(http.User, time.GetUtcNow()) is { } refusal)
        {
            await refusal.WriteAsync(http);
            return TypedResults.Empty;
        }

        using var activity = Observability.SessionGateTracing.Source.StartActivity("forward-auth.verify");
        activity?.SetTag("sessiongate.rule", name);
        activity?.SetTag("sessiongate.audience", rule.Audience);
        activity?.SetTag("sessiongate.per_request", rule.PerRequest);
        var upstream = UpstreamCredentials.Of(http.Request, auth.Get(SessionAuthenticationHandler.SchemeName).Cookie.Name!);
        var token = await tokens.IssueAsync(http.User, rule, http.Request.Headers.TraceParent, ct);
        // Every header the edge copies is always present (Caddy <= 2.8 writes a placeholder for a missing one).
        var headers = http.Response.Headers;
        headers[GatewayRegistration.InternalJwtHeader] = token;
        headers[UpstreamCredentials.CookieHeader] = upstream.Cookie;
        headers[UpstreamCredentials.AuthorizationHeader] = upstream.Authorization;
        return TypedResults.Ok();
    }
}
