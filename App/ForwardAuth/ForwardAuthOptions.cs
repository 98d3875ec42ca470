using SessionGate.Gateway;

namespace SessionGate.ForwardAuth;

/// <summary><c>/auth/verify</c> for an edge proxy you already run (<c>ForwardAuth</c> section).</summary>
public sealed class ForwardAuthOptions
{
    /// <summary>The default <see cref="TrustedNetworks"/>: loopback only.</summary>
    public static readonly string[] Loopback = ["127.0.0.0/8", "::1/128"];

    /// <summary>
    /// CIDRs of the edge proxies allowed to ask. Anyone else gets 404, so a client can never fetch an internal JWT for
    /// itself. From these callers the <c>X-Forwarded-Method</c>, <c>-Host</c>, <c>-Uri</c> and <c>-Proto</c> headers
    /// are believed. Empty or unset: <see cref="Loopback"/>.
    /// </summary>
    public string[]? TrustedNetworks { get; set; }

    /// <summary>
    /// The rules, by name: which original requests are allowed and what their downstream gets. The longest matching
    /// <see cref="ForwardAuthRule.PathPrefix"/> wins; a request no rule covers gets 403 <c>no-route</c>.
    /// </summary>
    public Dictionary<string, ForwardAuthRule> Rules { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>One <c>ForwardAuth:Rules:&lt;name&gt;</c> entry.</summary>
public sealed class ForwardAuthRule
{
    /// <summary>The original path this rule covers (whole segments, case-insensitive), <c>/</c> for everything.</summary>
    public string PathPrefix { get; set; } = "/";

    /// <summary>Original hosts this rule covers (a name, or name:port); empty: any host.</summary>
    public string[] Hosts { get; set; } = [];

    /// <summary>
    /// The same keys as a gateway route's metadata: <c>InternalJwtAudience</c> (required), <c>InternalJwtPerRequest</c>,
    /// <c>RequiredPermission</c>, <c>RequiredAcr</c>, <c>MaxAuthAge</c>.
    /// </summary>
    public Dictionary<string, string> Metadata { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

/// <summary>Refuses, at start, settings that would make <c>/auth/verify</c> guess; each message names the setting.</summary>
public sealed class ForwardAuthOptionsValidation : IValidateOptions<ForwardAuthOptions>
{
    public ValidateOptionsResult Validate(string? name, ForwardAuthOptions options)
    {
        var errors = new List<string>();
        foreach (var network in options.TrustedNetworks ?? [])
        {
            if (!System.Net.IPNetwork.TryParse(network, out _)) errors.Add($"ForwardAuth:TrustedNetworks: '{network}' is not a CIDR (such as 10.0.0.0/8).");
        }
        var seen = new List<(string Name, string Prefix, string[] Hosts)>();
        foreach (var (ruleName, rule) in options.Rules)
        {
            var where = $"ForwardAuth:Rules:{ruleName}";
            if (string.IsNullOrEmpty(rule.PathPrefix) || rule.PathPrefix[0] != '/' || ForwardedRequest.NormalPath(rule.PathPrefix) != rule.PathPrefix)
                errors.Add($"{where}:PathPrefix must be a path in normal form starting with / (no dot segments, no doubled or encoded slashes).");
            if (rule.Hosts.Any(string.IsNullOrWhiteSpace)) errors.Add($"{where}:Hosts may not hold an empty name.");
            RouteRule.Parse(rule.Metadata, where, errors);
            var prefix = ForwardAuthRules.TrimPrefix(rule.PathPrefix ?? "/");
            foreach (var other in seen)
            {
                // Two rules that would match the same request equally well: the longest-prefix rule cannot choose.
                if (string.Equals(other.Prefix, prefix, StringComparison.OrdinalIgnoreCase)
                    && (other.Hosts.Length == 0 && rule.Hosts.Length == 0 || other.Hosts.Intersect(rule.Hosts, StringComparer.OrdinalIgnoreCase).Any()))
                    errors.Add($"{where} and ForwardAuth:Rules:{other.Name} cover the same path prefix and hosts.");
            }
            seen.Add((ruleName, prefix, rule.Hosts));
        }
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
