using System.Collections.Concurrent;

namespace SessionGate.Caching;

/// <summary>
/// The per-instance L1 in front of Redis. An entry is trusted only while all of these hold:
/// <list type="bullet">
/// <item>it is younger than <see cref="RevocationOptions.LocalCacheMaxAge"/>, so a lost invalidation costs at most that;</item>
/// <item>the invalidation subscription is up and was proven by a round trip after the entry was filled;</item>
/// <item>no invalidation for its user arrived since it was filled.</item>
/// </list>
/// A fill that raced an invalidation (one arrived while Redis was being read) is dropped, so an answer read before a
/// revocation is never stored after it. Revoked answers ("tombstones") are always right and are kept regardless.
/// </summary>
public sealed class LocalCache
{
    private readonly long _maxAge;
    private readonly int _maxEntries;
    private readonly ConcurrentDictionary<Guid, long> _userInvalidatedAt = new();
    private readonly List<ILocalMap> _maps = [];
    private long _sequence;
    private long _trustedFrom = long.MaxValue;
    private volatile bool _subscribed;

    public LocalCache(IOptions<RevocationOptions> options, TimeProvider time)
    {
        var o = options.Value;
        Time = time;
        _maxAge = (long)(o.LocalCacheMaxAge.TotalSeconds * time.TimestampFrequency);
        _maxEntries = o.LocalCacheMaxEntries;
    }

    internal TimeProvider Time { get; }

    /// <summary>A timestamp <paramref name="after"/> from now, on the clock entries are stamped with.</summary>
    public long TimestampIn(TimeSpan after) => Time.GetTimestamp() + (long)(after.TotalSeconds * Time.TimestampFrequency);

    /// <summary>False when the L1 is configured off: nothing is stored, every request reads Redis.</summary>
    public bool Enabled => _maxAge > 0;

    /// <summary>Whether live entries may be served now (the subscription is proven).</summary>
    public bool Trusted => _subscribed;

    /// <summary>Read before going to Redis; pass to <see cref="LocalMap{TKey,TValue}.Fill"/> afterwards.</summary>
    public long Sequence => Volatile.Read(ref _sequence);

    public LocalMap<TKey, TValue> CreateMap<TKey, TValue>(string name, TimeSpan? tombstoneLife = null) where TKey : notnull where TValue : class
    {
        var map = new LocalMap<TKey, TValue>(this, name, _maxEntries,
            (long)((tombstoneLife ?? TimeSpan.FromMinutes(10)).TotalSeconds * Time.TimestampFrequency));
        lock (_maps) _maps.Add(map);
        return map;
    }

    internal bool IsTrusted(long filledAt, Guid userId)
    {
        if (!_subscribed || filledAt < Volatile.Read(ref _trustedFrom)) return false;
        if (Time.GetTimestamp() - filledAt > _maxAge) return false;
        return userId == Guid.Empty || !_userInvalidatedAt.TryGetValue(userId, out var at) || filledAt > at;
    }

    internal bool MayFill(long sequence) => _subscribed && Volatile.Read(ref _sequence) == sequence;

    /// <summary>Every entry of this user (sessions, revocation state) is stale from now on.</summary>
    public void InvalidateUser(Guid userId)
    {
        Interlocked.Increment(ref _sequence);
        _userInvalidatedAt[userId] = Time.GetTimestamp();
    }

    /// <summary>Something changed; fills that started before now must not land.</summary>
    public void Touch() => Interlocked.Increment(ref _sequence);

    /// <summary>The subscription dropped: forget every live entry and trust none until it is proven again.</summary>
    public void Distrust()
    {
        _subscribed = false;
        Interlocked.Increment(ref _sequence);
        Volatile.Write(ref _trustedFrom, long.MaxValue);
        ForEachMap(m => m.ClearLive());
    }

    /// <summary>Redis came back older than what was read from it: forget every live entry, keep trusting new fills.</summary>
    public void DropLive()
    {
        Interlocked.Increment(ref _sequence);
        Volatile.Write(ref _trustedFrom, Time.GetTimestamp());
        ForEachMap(m => m.ClearLive());
    }

    /// <summary>The subscription is proven (a message sent by this instance came back); entries filled from now on count.</summary>
    public void Trust()
    {
        if (_subscribed) return;
        Interlocked.Increment(ref _sequence);
        Volatile.Write(ref _trustedFrom, Time.GetTimestamp());
        _subscribed = true;
    }

    /// <summary>Drops what can no longer be trusted, so memory follows the working set.</summary>
    public void Sweep()
    {
        var now = Time.GetTimestamp();
        foreach (var (user, at) in _userInvalidatedAt)
        {
            if (now - at > _maxAge) _userInvalidatedAt.TryRemove(new KeyValuePair<Guid, long>(user, at));
        }
        ForEachMap(m => m.Sweep(now, _maxAge));
    }

    public IReadOnlyDictionary<string, int> Counts()
    {
        var counts = new Dictionary<string, int>();
        ForEachMap(m => counts[m.Name] = m.Count);
        return counts;
    }

    /// <summary>Lookups per cache so far: (name, hits, misses).</summary>
    public IReadOnlyList<(string Cache, long Hits, long Misses)> Lookups()
    {
        var lookups = new List<(string, long, long)>();
        ForEachMap(m => lookups.Add((m.Name, m.Hits, m.Misses)));
        return lookups;
    }

    private void ForEachMap(Action<ILocalMap> action)
    {
        ILocalMap[] maps;
        lock (_maps) maps = [.. _maps];
        foreach (var m in maps) action(m);
    }
}
