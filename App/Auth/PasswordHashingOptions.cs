namespace SessionGate.Auth;

/// <summary>Where password hashing runs (<c>PasswordHashing</c> section).</summary>
public sealed class PasswordHashingOptions
{
    /// <summary>Hashes computed at once; 0 means one per core.</summary>
    public int MaxConcurrency { get; set; }

    /// <summary>Hashes that may wait for a worker; beyond it a login is refused at once with 503.</summary>
    public int MaxQueue { get; set; } = 64;

    /// <summary>Longest a login waits for a worker before it is refused with 503 (and nothing is counted against anyone).</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Linux: run the hashing threads in the SCHED_IDLE class, so they take only CPU time no request wants. A login
    /// flood then costs authenticated requests almost nothing; when requests alone saturate the CPU, logins wait (and
    /// get 503 after <see cref="MaxWait"/>) until they leave some. Off: <see cref="Niceness"/> only.
    /// </summary>
    public bool IdleScheduling { get; set; } = true;

    /// <summary>
    /// Linux niceness of the hashing threads when <see cref="IdleScheduling"/> is off or refused (0 to 19): the higher, the less CPU a login flood takes from
    /// authenticated requests when the cores are saturated, and the slower logins get then.
    /// </summary>
    public int Niceness { get; set; } = 10;
}
