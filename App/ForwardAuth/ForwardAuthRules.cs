using System.Net;
using SessionGate.Gateway;

namespace SessionGate.ForwardAuth;

/// <summary>The validated <see cref="ForwardAuthOptions"/>, ready for every request: the trusted networks and the rules.</summary>
public sealed class ForwardAuthRules
{
    private sealed record Entry(string Name, string Prefix, string[] Hosts, RouteRule Rule);

    private readonly IPNetwork[] _trusted;
    private readonly Entry[] _rules;

    public ForwardAuthRules(IOptions<ForwardAuthOptions> options)
    {
        var o = options.Value;
        _trusted = [.. (o.TrustedNetworks is { Length: > 0 } networks ? networks : ForwardAuthOptions.Loopback).Select(n => IPNetwork.Parse(n))];
        // Longest prefix first; for the same prefix, a rule naming hosts before one for any host.
        _rules = [.. o.Rules
            .Select(r => new Entry(r.Key, TrimPrefix(r.Value.PathPrefix), r.Value.Hosts, RouteRule.From(r.Value.Metadata, $"ForwardAuth:Rules:{r.Key}")))
            .OrderByDescending(e => e.Prefix.Length).ThenByDescending(e => e.Hosts.Length > 0)];
    }

    /// <summary>Whether <paramref name="caller"/> (the connection's own address, before any forwarded header) may ask.</summary>
    public bool Trusts(IPAddress? caller)
    {
        if (caller is null) return false;
        if (caller.IsIPv4MappedToIPv6) caller = caller.MapToIPv4();
        foreach (var network in _trusted)
        {
            if (network.Contains(caller)) return true;
        }
        return false;
    }

    /// <summary>The rule for the original request (its name and checks), or null when none covers it.</summary>
    public (string Name, RouteRule Rule)? Match(ForwardedRequest request)
    {
        if (request.Path is not { } path) return null;
        foreach (var e in _rules)
        {
            if (Covers(e.Prefix, path) && (e.Hosts.Length == 0 || e.Hosts.Any(h => HostMatches(h, request.Host)))) return (e.Name, e.Rule);
        }
        return null;
    }

    /// <summary>The prefix without a trailing slash (<c>/</c> becomes empty, which covers every path).</summary>
    public static string TrimPrefix(string prefix) => prefix.TrimEnd('/');

    // Whole segments, case-insensitive as ASP.NET Core's routing is: /api covers /api and /API/x, never /apix.
    private static bool Covers(string prefix, string path) =>
        prefix.Length == 0
        || (path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && (path.Length == prefix.Length || path[prefix.Length] == '/'));

    private static bool HostMatches(string configured, HostString host) =>
        string.Equals(configured, host.Value, StringComparison.OrdinalIgnoreCase)
        || (!configured.Contains(':') && string.Equals(configured, host.Host, StringComparison.OrdinalIgnoreCase));
}
