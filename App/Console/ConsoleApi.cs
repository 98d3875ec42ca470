using System.Security.Cryptography;

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

    /// <summary>The page's scripts, in the order the page loads them (the shell first, then one per page).</summary>
    public static readonly string[] Scripts = ["core.js", "stepup.js", "sessions.js", "users.js", "user.js", "roles.js", "audit.js", "settings.js"];

    private sealed record Asset(byte[] Body, string ContentType, string ETag);

    private static readonly Dictionary<string, Asset> Assets = Load();

    public static RouteGroupBuilder MapConsole(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/console").WithTags("Admin console").AllowAnonymous().ExcludeFromDescription();
        group.MapGet("", (HttpContext http) => Serve(http, "console.html", "no-store"));
        // One route per known file: anything else under /console is 404.
        foreach (var name in Assets.Keys.Where(n => n != "console.html"))
            group.MapGet("/" + name, (HttpContext http) => Serve(http, name, "no-cache"));
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
        var assembly = typeof(ConsoleApi).Assembly;
        var files = new List<(string, string)> { ("console.html", "text/html; charset=utf-8"), ("console.css", "text/css; charset=utf-8") };
        files.AddRange(Scripts.Select(s => (s, "text/javascript; charset=utf-8")));
        var assets = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var (name, type) in files)
        {
            using var stream = assembly.GetManifestResourceStream("console/" + name)
                ?? throw new InvalidOperationException($"The console asset {name} is not embedded in {assembly.GetName().Name}.");
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var body = buffer.ToArray();
            assets[name] = new Asset(body, type, "\"" + Convert.ToHexStringLower(SHA256.HashData(body))[..16] + "\"");
        }
        return assets;
    }
}
