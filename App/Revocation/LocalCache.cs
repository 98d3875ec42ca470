using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace SessionGate.Revocation;

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

    public LocalCache(IOptions<RevocationOptions> options, TimeProvider time, Observability.SessionGateMetrics? metrics = null)
    {
        var o = options.Value;
        Time = time;
        Metrics = metrics;
        _maxAge = (long)(o.LocalCacheMaxAge.TotalSeconds * time.TimestampFrequency);
        _maxEntries = o.LocalCacheMaxEntries;
    }

    internal TimeProvider Time { get; }

    internal Observability.SessionGateMetrics? Metrics { get; }

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

    private void ForEachMap(Action<ILocalMap> action)
    {
        ILocalMap[] maps;
        lock (_maps) maps = [.. _maps];
        foreach (var m in maps) action(m);
    }
}

internal interface ILocalMap
{
    string Name { get; }
    int Count { get; }
    void ClearLive();
    void Sweep(long now, long maxAge);
}

/// <summary>One kind of L1 entry (sessions, a user's revocations, role sets, verified tokens).</summary>
public sealed class LocalMap<TKey, TValue> : ILocalMap where TKey : notnull where TValue : class
{
    private sealed record Slot(TValue Value, long FilledAt, Guid UserId, bool Final, long ValidUntil);

    private readonly ConcurrentDictionary<TKey, Slot> _slots = new();
    private readonly LocalCache _cache;
    private readonly int _maxEntries;
    private readonly long _finalLife;
    private int _count;

    internal LocalMap(LocalCache cache, string name, int maxEntries, long finalLife)
    {
        _cache = cache;
        Name = name;
        _maxEntries = maxEntries;
        _finalLife = finalLife;
    }

    public string Name { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>A live entry, if it may still be trusted; or a final one (a revocation, a verified signature), which always may.</summary>
    public bool TryGet(TKey key, out TValue value)
    {
        if (_slots.TryGetValue(key, out var slot)
            && (slot.Final ? _cache.Time.GetTimestamp() < slot.ValidUntil : _cache.IsTrusted(slot.FilledAt, slot.UserId)))
        {
            value = slot.Value;
            _cache.Metrics?.CacheLookup(Name, hit: true);
            return true;
        }
        value = null!;
        _cache.Metrics?.CacheLookup(Name, hit: false);
        return false;
    }

    /// <summary>Stores a live answer read from Redis, unless an invalidation arrived since <paramref name="sequence"/> was read.</summary>
    public void Fill(TKey key, TValue value, Guid userId, long sequence)
    {
        if (!_cache.Enabled || !_cache.MayFill(sequence)) return;
        Store(key, new Slot(value, _cache.Time.GetTimestamp(), userId, false, 0));
    }

    /// <summary>
    /// Stores an answer that cannot go stale before <paramref name="validUntil"/> (a TimeProvider timestamp): a revoked
    /// session never comes back, and a verified signature stays verified until the token expires.
    /// </summary>
    public void FillFinal(TKey key, TValue value, long? validUntil = null)
    {
        if (!_cache.Enabled) return;
        var now = _cache.Time.GetTimestamp();
        Store(key, new Slot(value, now, Guid.Empty, true, validUntil ?? now + _finalLife));
    }

    /// <summary>Replaces the value of a trusted live entry without making it younger (e.g. after a sliding write).</summary>
    public void Update(TKey key, TValue value)
    {
        if (_slots.TryGetValue(key, out var slot) && !slot.Final)
            _slots.TryUpdate(key, slot with { Value = value }, slot);
    }

    public void Remove(TKey key)
    {
        _cache.Touch();
        if (_slots.TryRemove(key, out _)) Interlocked.Decrement(ref _count);
    }

    public void Clear()
    {
        _cache.Touch();
        foreach (var key in _slots.Keys)
        {
            if (_slots.TryRemove(key, out _)) Interlocked.Decrement(ref _count);
        }
    }

    private void Store(TKey key, Slot slot)
    {
        if (Volatile.Read(ref _count) >= _maxEntries && !_slots.ContainsKey(key)) return;
        var added = false;
        _slots.AddOrUpdate(key, _ => { added = true; return slot; }, (_, old) => old.Final && !slot.Final ? old : slot);
        if (added) Interlocked.Increment(ref _count);
    }

    void ILocalMap.ClearLive()
    {
        foreach (var (key, slot) in _slots)
        {
            if (!slot.Final && _slots.TryRemove(new KeyValuePair<TKey, Slot>(key, slot))) Interlocked.Decrement(ref _count);
        }
    }

    void ILocalMap.Sweep(long now, long maxAge)
    {
        foreach (var (key, slot) in _slots)
        {
            var stale = slot.Final ? now >= slot.ValidUntil : now - slot.FilledAt > maxAge;
            if (stale && _slots.TryRemove(new KeyValuePair<TKey, Slot>(key, slot))) Interlocked.Decrement(ref _count);
        }
    }
}
