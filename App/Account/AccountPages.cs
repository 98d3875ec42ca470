using System.Reflection;
using System.Security.Cryptography;

namespace SessionGate.Account;

/// <summary>
/// GET /account (sign in: password then the second factor, or a passkey alone) and GET /account/security (TOTP with a
/// QR code, passkeys, recovery codes, password, own sessions): one static page and its script and style, embedded in
/// the app. They use only the public /auth API. Served with a strict Content-Security-Policy: scripts and styles from
/// this origin only (no inline script, nothing from a CDN), requests to this origin only, never framed.
/// </summary>
public static class AccountPages
{
    // blob: for the QR code, which the script fetches with the caller's credential and shows as an image.
    public const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; " +
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

    private sealed record Asset(byte[] Body, string ContentType, string ETag);

    private static readonly Dictionary<string, Asset> Assets = Load();

    public static RouteGroupBuilder MapAccountPages(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/account").WithTags("Account pages").AllowAnonymous().ExcludeFromDescription();
        group.MapGet("", (HttpContext http) => Serve(http, "account.html", "no-store"));
        group.MapGet("/security", (HttpContext http) => Serve(http, "account.html", "no-store"));
        group.MapGet("/account.js", (HttpContext http) => Serve(http, "account.js", "no-cache"));
        group.MapGet("/account.css", (HttpContext http) => Serve(http, "account.css", "no-cache"));
        return group;
    }

    private static IResult Serve(HttpContext http, string name, string cacheControl)
    {
        var asset = Assets[name];
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.CacheControl = cacheControl;
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers.ETag = asset.ETag;
        if (http.Request.Headers.IfNoneMatch == asset.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Body, asset.ContentType);
    }

    private static Dictionary<string, Asset> Load()
    {
        var assembly = typeof(AccountPages).Assembly;
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var (name, type) in new[] { ("account.html", "text/html; charset=utf-8"), ("account.js", "text/javascript; charset=utf-8"), ("account.css", "text/css; charset=utf-8") })
        {
            using var stream = assembly.GetManifestResourceStream("account/" + name)
                ?? throw new InvalidOperationException($"The account page asset {name} is not embedded in {assembly.GetName().Name}.");
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var body = buffer.ToArray();
            assets[name] = new Asset(body, type, "\"" + Convert.ToHexStringLower(SHA256.HashData(body))[..16] + "\"");
        }
        return assets;
    }
}
