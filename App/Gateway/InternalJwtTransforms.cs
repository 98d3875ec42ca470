using Microsoft.Extensions.Options;
using SessionGate.Auth;
using Yarp.ReverseProxy.Transforms;
using Yarp.ReverseProxy.Transforms.Builder;

namespace SessionGate.Gateway;

/// <summary>
/// What every gateway route does to a request and its response:
/// <list type="bullet">
/// <item>drops any client-sent <c>X-Internal-JWT</c>, and the client's own credential: the session cookie (whatever
/// the case of its name; the other cookies pass byte for byte) and any <c>Authorization</c> header that carries a
/// credential of ours, whatever its scheme;</item>
/// <item>sets <c>X-Internal-JWT</c> for the route's audience (per session, or per request on zero-trust routes);</item>
/// <item>never lets <c>X-Internal-JWT</c> out to the client, as a header or a trailer.</item>
/// </list>
/// A route without <c>Metadata:InternalJwtAudience</c> stops the app at start.
/// </summary>
public sealed class InternalJwtTransforms(InternalTokens tokens, IOptionsMonitor<SessionAuthenticationOptions> auth) : ITransformProvider
{
    public const string AudienceMetadata = "InternalJwtAudience";
    public const string PerRequestMetadata = "InternalJwtPerRequest";

    public void ValidateRoute(TransformRouteValidationContext context)
    {
        var metadata = context.Route.Metadata;
        if (metadata is null || !metadata.TryGetValue(AudienceMetadata, out var audience) || string.IsNullOrWhiteSpace(audience))
            context.Errors.Add(new InvalidOperationException(
                $"ReverseProxy:Routes:{context.Route.RouteId}:Metadata:{AudienceMetadata} is required: it is the aud of the internal JWT the route's downstream accepts."));
        if (metadata is not null && metadata.TryGetValue(PerRequestMetadata, out var perRequest) && !bool.TryParse(perRequest, out _))
            context.Errors.Add(new InvalidOperationException($"ReverseProxy:Routes:{context.Route.RouteId}:Metadata:{PerRequestMetadata} must be true or false."));
    }

    public void ValidateCluster(TransformClusterValidationContext context)
    {
    }

    public void Apply(TransformBuilderContext context)
    {
        var metadata = context.Route.Metadata!;
        var audience = metadata[AudienceMetadata];
        var perRequest = metadata.TryGetValue(PerRequestMetadata, out var value) && bool.Parse(value);
        var cookieName = auth.Get(SessionAuthenticationHandler.SchemeName).Cookie.Name!;

        context.AddRequestHeaderRemove(GatewayApi.InternalJwtHeader);
        context.AddRequestTransform(async t =>
        {
            var http = t.HttpContext;
            // Authorization already guaranteed a user; never mint for anyone else, whatever the route says.
            if (http.User.Identity?.IsAuthenticated != true) throw new InvalidOperationException("The gateway met an anonymous caller.");
            using var activity = Observability.SessionGateTracing.Source.StartActivity("gateway.internal-jwt");
            activity?.SetTag("sessiongate.route", context.Route.RouteId);
            activity?.SetTag("sessiongate.audience", audience);
            activity?.SetTag("sessiongate.per_request", perRequest);
            StripCredentials(http.Request, t.ProxyRequest, cookieName);
            var token = perRequest ? await tokens.MintPerRequestAsync(http.User, audience, http.Request.Headers.TraceParent, http.RequestAborted) : await tokens.GetAsync(http.User, audience, http.RequestAborted);
            t.ProxyRequest.Headers.TryAddWithoutValidation(GatewayApi.InternalJwtHeader, token);
        });
        // The internal JWT is for services, never for the client, even if a downstream echoes it back.
        context.AddResponseHeaderRemove(GatewayApi.InternalJwtHeader, ResponseCondition.Always);
        context.AddResponseTrailerRemove(GatewayApi.InternalJwtHeader, ResponseCondition.Always);
    }

    private static void StripCredentials(HttpRequest request, HttpRequestMessage proxy, string cookieName)
    {
        var cookies = request.Headers.Cookie;
        string? sessionCookie = null;
        if (cookies.Count > 0)
        {
            var kept = new List<string>();
            foreach (var header in cookies)
            {
                foreach (var part in (header ?? "").Split(';'))
                {
                    var pair = part.Trim();
                    if (pair.Length == 0) continue;
                    var eq = pair.IndexOf('=');
                    var name = eq < 0 ? pair : pair[..eq].Trim();
                    if (string.Equals(name, cookieName, StringComparison.OrdinalIgnoreCase)) sessionCookie = eq < 0 ? "" : pair[(eq + 1)..].Trim();
                    else kept.Add(pair);
                }
            }
            if (sessionCookie is not null)
            {
                proxy.Headers.Remove("Cookie");
                if (kept.Count > 0) proxy.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", kept));
            }
        }
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.Length == 0) return;
        // Ours: a bearer token (the only scheme the session handler reads), or the session id under any other scheme.
        var space = authorization.IndexOf(' ');
        var scheme = space < 0 ? authorization : authorization[..space];
        var parameter = space < 0 ? "" : authorization[(space + 1)..].Trim();
        if (scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)
            || (!string.IsNullOrEmpty(sessionCookie) && (parameter == sessionCookie || authorization.Contains(sessionCookie, StringComparison.Ordinal))))
            proxy.Headers.Authorization = null;
    }
}
