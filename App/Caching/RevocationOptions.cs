namespace SessionGate.Caching;

/// <summary>The revocation pipeline (<c>Revocation</c> section): the outbox relay, pub/sub invalidation and the L1.</summary>
public sealed class RevocationOptions
{
    /// <summary>
    /// Longest time an L1 (per-instance, in-memory) entry is trusted. A revocation whose pub/sub message is lost
    /// reaches this instance within this bound. Zero turns the L1 off (every request reads Redis). At most 00:00:10.
    /// </summary>
    public TimeSpan LocalCacheMaxAge { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Most entries one L1 map holds; beyond it, answers are still correct but not cached.</summary>
    public int LocalCacheMaxEntries { get; set; } = 200_000;

    /// <summary>How often this instance proves its invalidation subscription by sending itself a message.</summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How often each instance reads the Redis masters' marks and the outbox rows above them, and the writer applies
    /// rows again and moves the marks. A master that comes back older is noticed within this (at most 00:00:10).
    /// </summary>
    public TimeSpan RelayInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Rows every master's mark has passed are kept this long, so a master that comes back up to this much older is
    /// caught up from its mark; one older than that is abandoned (a new key generation, rebuilt from PostgreSQL).
    /// </summary>
    public TimeSpan OutboxRetention { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// <c>/health/ready</c> reports Degraded when the oldest change Redis has not proven it holds is older than this
    /// (Redis refuses writes, or the relay is stalled): still correct, since PostgreSQL then decides the users concerned.
    /// </summary>
    public TimeSpan ProofLagWarning { get; set; } = TimeSpan.FromSeconds(30);
}
