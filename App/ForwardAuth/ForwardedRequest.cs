using Microsoft.AspNetCore.Http.Features;

namespace SessionGate.ForwardAuth;

/// <summary>
/// The request the edge is asking about. nginx, Caddy and Traefik name it in <c>X-Forwarded-Method</c>,
/// <c>X-Forwarded-Host</c>, <c>X-Forwarded-Uri</c> (and <c>X-Forwarded-Proto</c>); Envoy's <c>ext_authz</c> sends the
/// original method and host and appends the original path to <c>/auth/verify</c> (its <c>path_prefix</c>). Only read
/// from trusted callers (<see cref="ForwardAuthOptions.TrustedNetworks"/>).
/// </summary>
/// <param name="Method">The original method.</param>
/// <param name="Host">The original host (and port).</param>
/// <param name="Path">The original path, percent-decoded, or null when it is not in normal form.</param>
public sealed record ForwardedRequest(string Method, HostString Host, string? Path)
{
    public const string MethodHeader = "X-Forwarded-Method";
    public const string HostHeader = "X-Forwarded-Host";
    public const string UriHeader = "X-Forwarded-Uri";
    public const string ProtoHeader = "X-Forwarded-Proto";

    /// <summary>The path of the verify endpoints; Envoy appends the original path to it.</summary>
    public const string VerifyPath = "/auth/verify";

    /// <summary>Reads it from a trusted caller's request.</summary>
    public static ForwardedRequest From(HttpContext http)
    {
        var request = http.Request;
        var method = First(request.Headers[MethodHeader]) is { } m && IsToken(m) ? m.ToUpperInvariant() : request.Method;
        var host = First(request.Headers[HostHeader]) is { Length: > 0 } h ? new HostString(h) : request.Host;
        string? uri = First(request.Headers[UriHeader]);
        if (uri is null)
        {
            // Envoy's path_prefix form: what follows /auth/verify in the raw target is the original path and query.
            var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } target ? target : request.Path.Value + request.QueryString.Value;
            var at = raw.IndexOf(VerifyPath, StringComparison.OrdinalIgnoreCase);
            uri = at < 0 ? "/" : raw[(at + VerifyPath.Length)..];
            if (uri.Length == 0 || uri[0] == '?') uri = "/" + uri;
        }
        return new ForwardedRequest(method, host, NormalPath(uri));
    }

    /// <summary>
    /// The path of a request target, percent-decoded, or null when two servers could read it differently: no leading
    /// slash, a backslash, an encoded slash or backslash, a NUL or other control character, a doubled slash, or a
    /// <c>.</c> or <c>..</c> segment. Such a request matches no rule (403 <c>no-route</c>), so a traversal can never pick
    /// a weaker rule than the path the downstream ends up serving.
    /// </summary>
    public static string? NormalPath(string target)
    {
        var end = target.AsSpan().IndexOfAny('?', '#');
        var path = end < 0 ? target : target[..end];
        if (path.Length == 0 || path[0] != '/' || path.Contains('\\')
            || path.Contains("%2f", StringComparison.OrdinalIgnoreCase) || path.Contains("%5c", StringComparison.OrdinalIgnoreCase))
            return null;
        var decoded = Uri.UnescapeDataString(path);
        if (decoded.Any(char.IsControl) || decoded.Contains("//", StringComparison.Ordinal)) return null;
        foreach (var segment in decoded.Split('/'))
        {
            if (segment is "." or "..") return null;
        }
        return decoded;
    }

    // A proxy chain may list several values; the first is the client's own request.
    private static string? First(Microsoft.Extensions.Primitives.StringValues values)
    {
        if (values.Count == 0 || values[0] is not { } first) return null;
        var comma = first.IndexOf(',');
        return (comma < 0 ? first : first[..comma]).Trim();
    }

    private static bool IsToken(string method) => method.Length is > 0 and <= 16 && method.All(char.IsAsciiLetter);
}
