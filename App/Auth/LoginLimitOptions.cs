namespace SessionGate.Auth;

/// <summary>Failed-login limits (<c>LoginLimits</c> section), shared by all instances through Redis.</summary>
public sealed class LoginLimitOptions
{
    /// <summary>Failed logins allowed per account within <see cref="Window"/>.</summary>
    public int MaxFailuresPerAccount { get; set; } = 5;

    /// <summary>Failed logins allowed per client IP within <see cref="Window"/>.</summary>
    public int MaxFailuresPerIp { get; set; } = 50;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Requests per minute per client IP to /auth (in-process backstop).</summary>
    public int RequestsPerMinutePerIp { get; set; } = 600;
}
