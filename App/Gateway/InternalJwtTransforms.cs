using SessionGate.Auth;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace SessionGate.Gateway;

/// <summary>
/// What every gateway route does to a request and its response:
/// <list type="bullet">
/// <item>drops any client-sent <c>X-Internal-JWT</c>, and the client's own credential (<see cref="UpstreamCredentials"/>:
/// the session cookie as authentication reads it, the other cookies byte for byte, and any <c>Authorization</c> header
/// that carries a credential of ours, whatever its scheme);</item>
/// <item>sets <c>X-Internal-JWT</c> for the route's audience (per session, or per request on zero-trust routes);</item>
/// <item>never lets <c>X-Internal-JWT</c> out to the client, as a header or a trailer.</item>
/// </list>
/// A route whose metadata <see cref="RouteRule"/> refuses (no <c>InternalJwtAudience</c>, say) stops the app at start.
/// The route's permission and step-up checks run before this, in <see cref="GatewayRegistration"/>'s proxy pipeline.
/// </summary>
public sealed class InternalJwtTransforms(InternalTokens tokens, IOptionsMonitor<SessionAuthenticationOptions> auth) : ITransformProvider
{
    public void ValidateRoute(TransformRouteValidationContext context)
    {
        var errors = new List<string>();
        RouteRule.Parse(context.Route.Metadata, $"ReverseProxy:Routes:{context.Route.RouteId}", errors);
        foreach (var error in errors) context.Errors.Add(new InvalidOperationException(error));
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        var rule = RouteRule.From(context.Route.Metadata, $"ReverseProxy:Routes:{context.Route.RouteId}");
        var cookieName = auth.Get(SessionAuthenticationHandler.SchemeName).Cookie.Name!;

        context.AddRequestHeaderRemove(GatewayRegistration.InternalJwtHeader);
        context.AddRequestTransform(async t =>
        {
            var http = t.HttpContext;
            // Authorization already guaranteed a user; never mint for anyone else, whatever the route says.
            if (http.User.Identity?.IsAuthenticated != true) throw new InvalidOperationException("The gateway met an anonymous caller.");
            using var activity = Observability.SessionGateTracing.Source.StartActivity("gateway.internal-jwt");
            activity?.SetTag("sessiongate.route", context.Route.RouteId);
            activity?.SetTag("sessiongate.audience", rule.Audience);
            activity?.SetTag("sessiongate.per_request", rule.PerRequest);
            UpstreamCredentials.Of(http.Request, cookieName).ApplyTo(t.ProxyRequest);
            var token = await tokens.IssueAsync(http.User, rule, http.Request.Headers.TraceParent, http.RequestAborted);
            t.ProxyRequest.Headers.TryAddWithoutValidation(GatewayRegistration.InternalJwtHeader, token);
        });
        // The internal JWT is for services, never for the client, even if a downstream echoes it back.
        context.AddResponseHeaderRemove(GatewayRegistration.InternalJwtHeader, ResponseCondition.Always);
        context.AddResponseTrailerRemove(GatewayRegistration.InternalJwtHeader, ResponseCondition.Always);
    }
}
