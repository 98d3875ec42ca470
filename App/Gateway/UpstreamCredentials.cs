using SessionGate.Auth;

namespace SessionGate.Gateway;

/// <summary>
/// What of the client's own credential headers may go on to a downstream: the <c>Cookie</c> header without the session
/// cookie (read by <see cref="SessionCookie"/>, the same grammar authentication uses), and the <c>Authorization</c>
/// header unless it carries a credential of ours. The built-in gateway applies it to the proxied request;
/// <c>/auth/verify</c> hands it to the edge as <see cref="CookieHeader"/> and <see cref="AuthorizationHeader"/>.
/// </summary>
public readonly record struct UpstreamCredentials(bool CookieChanged, string Cookie, bool AuthorizationDropped, string Authorization)
{
    /// <summary>The Cookie header the edge should send upstream (empty: none).</summary>
    public const string CookieHeader = "X-Upstream-Cookie";

    /// <summary>The Authorization header the edge should send upstream (empty: none).</summary>
    public const string AuthorizationHeader = "X-Upstream-Authorization";

    /// <summary>
    /// Computes them for an authenticated request. An ambiguous session cookie never gets here (authentication refused
    /// it); if one did, this throws rather than forward it.
    /// </summary>
    public static UpstreamCredentials Of(HttpRequest request, string cookieName)
    {
        var cookies = request.Headers.Cookie;
        // No Cookie header (a bearer caller): nothing to rebuild, so nothing to allocate.
        var (reading, others) = cookies.Count == 0 ? (SessionCookie.Find(cookies, cookieName), "") : SessionCookie.Without(cookies, cookieName);
        if (reading.State == SessionCookieState.Ambiguous) throw new InvalidOperationException("An ambiguous session cookie reached the gateway.");
        var cookieChanged = reading.State == SessionCookieState.Present;
        var cookie = cookieChanged ? others : cookies.ToString();

        var authorization = request.Headers.Authorization.ToString();
        var drop = false;
        if (authorization.Length > 0)
        {
            // Ours: a bearer token (the only scheme the session handler reads), or the session id under any other scheme.
            var space = authorization.IndexOf(' ');
            var scheme = space < 0 ? authorization : authorization[..space];
            drop = scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase)
                || (!string.IsNullOrEmpty(reading.Value) && authorization.Contains(reading.Value, StringComparison.Ordinal));
        }
        return new UpstreamCredentials(cookieChanged, cookie, drop, drop ? "" : authorization);
    }

    /// <summary>Applies them to the request YARP is about to send.</summary>
    public void ApplyTo(HttpRequestMessage proxy)
    {
        if (CookieChanged)
        {
            proxy.Headers.Remove("Cookie");
            if (Cookie.Length > 0) proxy.Headers.TryAddWithoutValidation("Cookie", Cookie);
        }
        if (AuthorizationDropped) proxy.Headers.Authorization = null;
    }
}
