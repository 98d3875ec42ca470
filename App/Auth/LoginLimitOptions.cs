namespace SessionGate.Auth;

/// <summary>
/// Failed-login limits (<c>LoginLimits</c> section), shared by all instances through Redis. They are built so that a
/// stranger cannot lock an owner out: the tight limit holds per account <em>and</em> address.
/// </summary>
public sealed class LoginLimitOptions
{
    /// <summary>Wrong passwords for one account from one address (an IPv4 address or an IPv6 /64) within <see cref="Window"/>; past it, that address gets 429 for the account.</summary>
    public int MaxFailuresPerAccountAndAddress { get; set; } = 5;

    /// <summary>Wrong passwords for one account from all addresses within <see cref="Window"/>: a ceiling against distributed guessing, far above what a stranger can trip by accident.</summary>
    public int MaxFailuresPerAccount { get; set; } = 100;

    /// <summary>Wrong passwords from one address across all accounts within <see cref="Window"/> (password spraying).</summary>
    public int MaxFailuresPerIp { get; set; } = 50;

    /// <summary>Wrong current passwords on self-service password change, per user, within <see cref="Window"/>.</summary>
    public int MaxPasswordChangeFailures { get; set; } = 5;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Requests per minute per client address to the anonymous /auth endpoints (in-process backstop).</summary>
    public int RequestsPerMinutePerIp { get; set; } = 600;
}
