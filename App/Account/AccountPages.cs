namespace SessionGate.Account;

/// <summary>
/// GET /account (sign in: password then the second factor, or a passkey alone) and GET /account/security (TOTP with a
/// QR code, passkeys, recovery codes, password, own sessions): one static page and its scripts and style, embedded in
/// the app. They use only the public /auth API. Served with a strict Content-Security-Policy: scripts and styles from
/// this origin only (no inline script, nothing from a CDN), requests to this origin only, never framed.
/// <c>/account/auth-client.js</c>, the browser's client of /auth (requests, tokens, passkeys, step-up), serves the admin
/// console (App/Console) too.
/// </summary>
public static class AccountPages
{
    // blob: for the QR code, which the script fetches with the caller's credential and shows as an image.
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; " +
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    private static readonly EmbeddedAssets Assets = new("account/", ContentSecurityPolicy,
        [("account.html", EmbeddedAssets.Html), ("auth-client.js", EmbeddedAssets.JavaScript), ("account.js", EmbeddedAssets.JavaScript),
         ("account.css", EmbeddedAssets.Css)]);

    public static RouteGroupBuilder MapAccountPages(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/account").WithTags("Account pages").AllowAnonymous().ExcludeFromDescription();
        group.MapGet("", (HttpContext http) => Assets.Serve(http, "account.html", "no-store"));
        group.MapGet("/security", (HttpContext http) => Assets.Serve(http, "account.html", "no-store"));
        group.MapGet("/auth-client.js", (HttpContext http) => Assets.Serve(http, "auth-client.js", "no-cache"));
        group.MapGet("/account.js", (HttpContext http) => Assets.Serve(http, "account.js", "no-cache"));
        group.MapGet("/account.css", (HttpContext http) => Assets.Serve(http, "account.css", "no-cache"));
        return group;
    }
}
