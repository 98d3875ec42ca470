using Microsoft.AspNetCore.Authentication;

namespace SessionGate.Auth;

public static class SessionAuthenticationExtensions
{
    // WebApplication's marker (WebApplication.AuthenticationMiddlewareSetKey, internal) for "UseAuthentication is in the pipeline".
    private const string AuthenticationMiddlewareSetKey = "__AuthenticationMiddlewareSet";

    public static AuthenticationBuilder AddSessionGate(this AuthenticationBuilder builder, Action<SessionAuthenticationOptions>? configure = null)
    {
        return builder.AddScheme<SessionAuthenticationOptions, SessionAuthenticationHandler>(SessionAuthenticationHandler.SchemeName, configure);
    }

    /// <summary>
    /// Authentication for requests that carry a credential (an Authorization header or the session cookie). The rest
    /// skip the per-request handler; an endpoint that requires a user still challenges them through the scheme, so
    /// they get the same 401 problem.
    /// </summary>
    public static IApplicationBuilder UseSessionAuthentication(this IApplicationBuilder app)
    {
        var cookie = app.ApplicationServices.GetRequiredService<IOptionsMonitor<SessionAuthenticationOptions>>()
            .Get(SessionAuthenticationHandler.SchemeName).Cookie.Name!;
        // WebApplication adds its own UseAuthentication() at the very start of the pipeline unless the app's builder
        // says one is set, and the UseWhen branch below marks only its own copy of the properties. Without this line
        // every request was authenticated before forwarded headers, the exception handler, request hygiene and
        // /auth/verify's original-request rewrite had run.
        app.Properties[AuthenticationMiddlewareSetKey] = true;
        // Any mention of the cookie's name counts, so an ambiguous Cookie header meets the scheme (which refuses it).
        return app.UseWhen(http => http.Request.Headers.ContainsKey(Microsoft.Net.Http.Headers.HeaderNames.Authorization) || SessionCookie.Mentions(http.Request.Headers.Cookie, cookie),
            branch => branch.UseAuthentication());
    }

    /// <summary>Sets the session cookie (Opaque mode) with the scheme's cookie settings.</summary>
    public static void AppendSessionCookie(this HttpContext http, string value, DateTimeOffset expires)
    {
        var options = http.RequestServices.GetRequiredService<IOptionsMonitor<SessionAuthenticationOptions>>().Get(SessionAuthenticationHandler.SchemeName);
        var cookie = options.Cookie.Build(http);
        cookie.Expires = expires;
        http.Response.Cookies.Append(options.Cookie.Name!, value, cookie);
    }

    /// <summary>Clears the session cookie if the request carried one.</summary>
    public static void ClearSessionCookie(this HttpContext http)
    {
        var options = http.RequestServices.GetRequiredService<IOptionsMonitor<SessionAuthenticationOptions>>().Get(SessionAuthenticationHandler.SchemeName);
        if (SessionCookie.Find(http.Request.Headers.Cookie, options.Cookie.Name!).State != SessionCookieState.Present) return;
        http.Response.Cookies.Delete(options.Cookie.Name!, options.Cookie.Build(http));
    }
}
