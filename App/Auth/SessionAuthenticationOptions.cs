using Microsoft.AspNetCore.Authentication;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>Options for <see cref="SessionAuthenticationHandler"/>.</summary>
public sealed class SessionAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The session cookie (Opaque mode): HttpOnly, Secure, SameSite=Strict, Path=/.</summary>
    public CookieBuilder Cookie { get; set; } = new()
    {
        Name = "__Host-sid",
        HttpOnly = true,
        SecurePolicy = CookieSecurePolicy.Always,
        SameSite = SameSiteMode.Strict,
        Path = "/",
    };

    /// <summary>Longest credential that is looked at; anything longer is refused unread.</summary>
    public int MaxCredentialLength { get; set; } = 8192;

    /// <summary>What to do while Redis cannot be reached.</summary>
    public RedisUnavailableBehavior RedisUnavailable { get; set; } = RedisUnavailableBehavior.FailClosed;
}
