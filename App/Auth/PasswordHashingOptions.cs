namespace SessionGate.Auth;

/// <summary>The algorithm new password hashes use.</summary>
public enum PasswordAlgorithm
{
    /// <summary>argon2id through libsodium (OWASP's first choice; the default).</summary>
    Argon2id,

    /// <summary>PBKDF2-HMAC-SHA512 (ASP.NET Core Identity's format), for deployments that must use a FIPS-approved algorithm.</summary>
    Pbkdf2,
}

/// <summary>How passwords are hashed and where the hashing runs (<c>PasswordHashing</c> section).</summary>
public sealed class PasswordHashingOptions
{
    /// <summary>
    /// The algorithm of new hashes. A stored hash of the other algorithm, or with weaker parameters, is verified as it
    /// is and replaced at the user's next successful login.
    /// </summary>
    public PasswordAlgorithm Algorithm { get; set; } = PasswordAlgorithm.Argon2id;

    /// <summary>argon2id memory cost in KiB (OWASP's minimum: 19456, that is 19 MiB, with 2 iterations). Each hash running holds this much.</summary>
    public int Argon2MemoryKiB { get; set; } = 19_456;

    /// <summary>argon2id iterations (t). Parallelism is always 1 (libsodium's).</summary>
    public int Argon2Iterations { get; set; } = 2;

    /// <summary>PBKDF2 iterations when <see cref="Algorithm"/> is <see cref="PasswordAlgorithm.Pbkdf2"/> (OWASP: 210,000 for SHA-512).</summary>
    public int Pbkdf2Iterations { get; set; } = 210_000;

    /// <summary>Hashes computed at once; 0 means one per core. Memory held by hashing is at most this times <see cref="Argon2MemoryKiB"/>.</summary>
    public int MaxConcurrency { get; set; }

    /// <summary>
    /// Workers kept for known devices (and signed-in callers): they hash at the requests' own CPU weight (nice 0) and,
    /// while new devices' failed logins run above <c>LoginLimits:UnderAttackFailuresPerMinute</c>, serve nobody else,
    /// so a flood of new devices hashes on at most MaxConcurrency minus this. At most MaxConcurrency − 1. Known
    /// devices always go first in the queue.
    /// </summary>
    public int ReservedForKnownDevices { get; set; } = 1;

    /// <summary>
    /// While under attack, the CPU new devices' hashing may take, in percent of one core (a duty cycle: after a hash of
    /// t ms the next waits until the share allows it). Known devices and signed-in callers are never held to it.
    /// The weight (<see cref="Niceness"/>) only counts when requests want the core at the same moment; this bounds what
    /// a login flood takes however the machine schedules. 100: no cap.
    /// </summary>
    public int UnderAttackNewDeviceShare { get; set; } = 25;

    /// <summary>Hashes that may wait for a worker; when full, the busiest network's newest waiting login is refused (503) to make room.</summary>
    public int MaxQueue { get; set; } = 128;

    /// <summary>Longest a login waits for a worker before it is refused with 503 (and nothing is counted against anyone).</summary>
    public TimeSpan MaxWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Linux niceness (0 to 19) of the workers that are not reserved: their CPU weight against request threads (nice 0,
    /// weight 1024). 5 is weight 335: when requests saturate the cores, these still get a share (never idle
    /// priority, so hashing cannot be starved), and a login flood leaves requests most of the CPU.
    /// </summary>
    public int Niceness { get; set; } = 5;

    /// <summary>Whether (m, t) is at least one of OWASP's equivalent argon2id minimums.</summary>
    public bool MeetsOwaspArgon2Minimum() =>
        OwaspArgon2Minimums.Any(p => Argon2MemoryKiB >= p.MemoryKiB && Argon2Iterations >= p.Iterations);

    /// <summary>OWASP Password Storage Cheat Sheet: equally strong argon2id settings (p = 1).</summary>
    public static readonly (int MemoryKiB, int Iterations)[] OwaspArgon2Minimums = [(47_104, 1), (19_456, 2), (12_288, 3), (9_216, 4), (7_168, 5)];
}
