namespace SessionGate.Mfa;

/// <summary>Second factors and step-up (<c>Mfa</c> section).</summary>
public sealed class MfaOptions
{
    /// <summary>How recent an <c>aal2</c> proof must be for the sensitive routes (RFC 9470's <c>max_age</c>).</summary>
    public TimeSpan StepUpMaxAge { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Life of an <c>mfa_token</c>: the pending login between the right password and the second factor.</summary>
    public TimeSpan PendingLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Wrong codes that kill an <c>mfa_token</c> (they also count as failed logins).</summary>
    public int MaxCodeFailures { get; set; } = 5;

    /// <summary>The issuer an authenticator app shows next to the account (the <c>otpauth://</c> URI's issuer).</summary>
    public string TotpIssuer { get; set; } = "SessionGate";
}

/// <summary>The WebAuthn relying party (<c>WebAuthn</c> section); never taken from the request's Host.</summary>
public sealed class WebAuthnOptions
{
    /// <summary>The RP ID: the registrable domain the passkeys are bound to (an IP address cannot be one).</summary>
    public string RpId { get; set; } = "localhost";

    /// <summary>The name an authenticator shows.</summary>
    public string RpName { get; set; } = "SessionGate";

    /// <summary>The origins (scheme, host, port) that pages calling WebAuthn are served from; each host is the RP ID or under it.</summary>
    public List<string> Origins { get; set; } = [];

    /// <summary><c>none</c> (the default: no attestation is asked for), <c>indirect</c>, <c>direct</c> or <c>enterprise</c>.</summary>
    public string Attestation { get; set; } = "none";

    /// <summary>When not empty, only authenticators of these AAGUIDs may be registered (meaningful with <c>direct</c> attestation).</summary>
    public List<Guid> AllowedAaguids { get; set; } = [];

    /// <summary>How long a ceremony (its challenge) may be answered; single-use, at most 5 minutes.</summary>
    public TimeSpan ChallengeLifetime { get; set; } = TimeSpan.FromMinutes(5);

    public static readonly string[] AttestationValues = ["none", "indirect", "direct", "enterprise"];

    /// <summary>Null when the origins suit the RP ID; otherwise why not.</summary>
    public string? OriginProblem()
    {
        if (Origins.Count == 0) return "WebAuthn:Origins needs at least one origin (the page's scheme://host:port).";
        foreach (var origin in Origins)
        {
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || (uri.Scheme != "https" && uri.Scheme != "http") || uri.AbsolutePath != "/")
                return $"WebAuthn:Origins: '{origin}' is not an origin (scheme://host[:port]).";
            if (!string.Equals(uri.Host, RpId, StringComparison.OrdinalIgnoreCase) && !uri.Host.EndsWith("." + RpId, StringComparison.OrdinalIgnoreCase))
                return $"WebAuthn:Origins: the host of '{origin}' is neither WebAuthn:RpId ({RpId}) nor under it.";
        }
        return null;
    }
}
