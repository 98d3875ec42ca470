namespace SessionGate.Auth;

/// <summary>
/// Failed-login limits (<c>LoginLimits</c> section), shared by all instances through Redis. They follow OWASP's
/// "device cookies": a device that has signed in to an account before (a valid device token) is counted on its own,
/// so no stranger can lock the owner's device out. New devices are counted per account and address, per address
/// and network, and account-wide; account-wide they are slowed down, never locked out.
/// </summary>
public sealed class LoginLimitOptions
{
    /// <summary>Wrong passwords for one account from one address (an IPv4 address or an IPv6 /64), new devices, within <see cref="Window"/>; past it, that address gets 429 for the account.</summary>
    public int MaxFailuresPerAccountAndAddress { get; set; } = 5;

    /// <summary>
    /// Wrong passwords for one account from new devices (all addresses) within <see cref="Window"/> after which new
    /// devices are slowed down: each waits <see cref="NewDeviceDelay"/> before its password is checked, doubled for every
    /// further this many failures, up to <see cref="NewDeviceMaxDelay"/>. Never a refusal, so the owner on a new device
    /// still signs in, a little later; known devices never wait.
    /// </summary>
    public int MaxFailuresPerAccount { get; set; } = 20;

    /// <summary>The first delay of a new device on an account past <see cref="MaxFailuresPerAccount"/>.</summary>
    public TimeSpan NewDeviceDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest delay of a new device (the owner on a new device waits at most this long).</summary>
    public TimeSpan NewDeviceMaxDelay { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Wrong passwords from one address (an IPv4 address or an IPv6 /64) across all accounts within <see cref="Window"/> (password spraying), new devices.</summary>
    public int MaxFailuresPerIp { get; set; } = 50;

    /// <summary>The same for an IPv6 /56 (256 /64s: one subscriber's usual allocation).</summary>
    public int MaxFailuresPerIpv6Slash56 { get; set; } = 200;

    /// <summary>The same for an IPv6 /48 (a site's allocation).</summary>
    public int MaxFailuresPerIpv6Slash48 { get; set; } = 1000;

    /// <summary>Wrong passwords from one known device (a valid device token of the account) within <see cref="Window"/>; past it, only that device gets 429.</summary>
    public int MaxFailuresPerDevice { get; set; } = 10;

    /// <summary>
    /// Wrong passwords from new devices across the whole service in a minute above which it is under a guessing attack:
    /// for the next minute new devices' hashing leaves <c>PasswordHashing:ReservedForKnownDevices</c> workers to known
    /// devices and takes at most <c>PasswordHashing:UnderAttackNewDeviceShare</c> of a core. A false alarm costs little
    /// (new devices still get that share of every instance), so the threshold sits low.
    /// </summary>
    public int UnderAttackFailuresPerMinute { get; set; } = 120;

    /// <summary>Wrong <c>current_password</c> (POST /auth/password and PATCH /admin/users/{self}) per account and device, or per account and address without a device token, within <see cref="Window"/>.</summary>
    public int MaxPasswordChangeFailures { get; set; } = 5;

    /// <summary>Wrong <c>current_password</c> per account from callers without a device token of it, all addresses together, within <see cref="Window"/>.</summary>
    public int MaxPasswordChangeFailuresPerAccount { get; set; } = 20;

    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a device token stays valid (it is renewed at every login from the device).</summary>
    public TimeSpan DeviceTokenLifetime { get; set; } = TimeSpan.FromDays(365);

    /// <summary>Requests per minute per client address to the anonymous /auth endpoints (in-process backstop).</summary>
    public int RequestsPerMinutePerIp { get; set; } = 600;
}
