namespace SessionGate.Revocation;

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

    /// <summary>How often the relay looks for outbox rows that were committed but not confirmed in Redis.</summary>
    public TimeSpan RelayInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A row younger than this is left to the request that wrote it.</summary>
    public TimeSpan RelayGrace { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// After Redis may have lost writes (reconnect, failover, restart), every outbox row of this window is applied
    /// again, applied or not. Must exceed the longest replication lag plus the time to notice the failover.
    /// </summary>
    public TimeSpan ReplayWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Applied rows are kept this long (at least <see cref="ReplayWindow"/>), then deleted.</summary>
    public TimeSpan OutboxRetention { get; set; } = TimeSpan.FromMinutes(15);
}
