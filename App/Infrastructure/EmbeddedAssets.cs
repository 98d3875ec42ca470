using System.Security.Cryptography;

namespace SessionGate.Infrastructure;

/// <summary>
/// Static files embedded in the app (the account pages, the admin console), served with a strict
/// Content-Security-Policy, never framed, with an ETag of their content.
/// </summary>
public sealed class EmbeddedAssets
{
    private sealed record Asset(byte[] Body, string ContentType, string ETag);

    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);
    private readonly string _contentSecurityPolicy;

    /// <param name="resourcePrefix">The resources' logical name before the file name (App.csproj), like <c>account/</c>.</param>
    /// <param name="contentSecurityPolicy">The policy every file is served with.</param>
    /// <param name="files">The file names, with their content types.</param>
    public EmbeddedAssets(string resourcePrefix, string contentSecurityPolicy, IEnumerable<(string Name, string ContentType)> files)
    {
        _contentSecurityPolicy = contentSecurityPolicy;
        var assembly = typeof(EmbeddedAssets).Assembly;
        foreach (var (name, type) in files)
        {
            using var stream = assembly.GetManifestResourceStream(resourcePrefix + name)
                ?? throw new InvalidOperationException($"The asset {resourcePrefix}{name} is not embedded in {assembly.GetName().Name}.");
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var body = buffer.ToArray();
            _assets[name] = new Asset(body, type, "\"" + Convert.ToHexStringLower(SHA256.HashData(body))[..16] + "\"");
        }
    }

    public const string Html = "text/html; charset=utf-8";
    public const string JavaScript = "text/javascript; charset=utf-8";
    public const string Css = "text/css; charset=utf-8";

    public IEnumerable<string> Names => _assets.Keys;

    public IResult Serve(HttpContext http, string name, string cacheControl)
    {
        var asset = _assets[name];
        var headers = http.Response.Headers;
        headers.ContentSecurityPolicy = _contentSecurityPolicy;
        headers.CacheControl = cacheControl;
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers.ETag = asset.ETag;
        if (http.Request.Headers.IfNoneMatch == asset.ETag) return Results.StatusCode(StatusCodes.Status304NotModified);
        return Results.Bytes(asset.Body, asset.ContentType);
    }
}
