// Not SessionGate.Console: that namespace would hide System.Console from all of SessionGate.*.
namespace SessionGate.AdminConsole;

/// <summary>
/// GET /console: the admin console. One static page and its scripts and style, embedded in the app, under the same
/// rules as the account pages (App/Account): scripts and styles from this origin only (no inline script, nothing from
/// a CDN), requests to this origin only, never framed. It signs in through /account and then calls only the public
/// /auth and /admin API with the caller's own credential, so it can do exactly what the caller may do, no more.
/// </summary>
public static class ConsoleApi
{
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    /// <summary>
    /// The page loads this script first: the account pages' client of /auth (requests, tokens, passkeys, step-up),
    /// one file for both.
    /// </summary>
    public const string AuthClient = "/account/auth-client.js";

    /// <summary>The page's own scripts, in the order the page loads them after <see cref="AuthClient"/> (the shell first, then one per page).</summary>
    public static readonly string[] Scripts = ["core.js", "sessions.js", "users.js", "user.js", "roles.js", "audit.js", "settings.js"];

    private static readonly EmbeddedAssets Assets = new("console/", ContentSecurityPolicy,
        [("console.html", EmbeddedAssets.Html), ("console.css", EmbeddedAssets.Css), .. Scripts.Select(s => (s, EmbeddedAssets.JavaScript))]);

    public static RouteGroupBuilder MapConsole(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/console").WithTags("Admin console").AllowAnonymous().ExcludeFromDescription();
        group.MapGet("", (HttpContext http) => Assets.Serve(http, "console.html", "no-store"));
        // One route per known file: anything else under /console is 404.
        foreach (var name in Assets.Names.Where(n => n != "console.html"))
            group.MapGet("/" + name, (HttpContext http) => Assets.Serve(http, name, "no-cache"));
        return group;
    }
}
