using System.Collections.Concurrent;

namespace SessionGate.Caching;

internal interface ILocalMap
{
    string Name { get; }
    int Count { get; }
    long Hits { get; }
    long Misses { get; }
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
    private long _hits;
    private long _misses;

    internal LocalMap(LocalCache cache, string name, int maxEntries, long finalLife)
    {
        _cache = cache;
        Name = name;
        _maxEntries = maxEntries;
        _finalLife = finalLife;
    }

    public string Name { get; }

    public int Count => Volatile.Read(ref _count);

    /// <summary>Lookups that found an entry to serve, and those that did not (<c>sessiongate.cache.lookups</c>).</summary>
    public long Hits => Interlocked.Read(ref _hits);

    public long Misses => Interlocked.Read(ref _misses);

    /// <summary>A live entry, if it may still be trusted; or a final one (a revocation, a verified signature), which always may.</summary>
    public bool TryGet(TKey key, out TValue value)
    {
        if (_slots.TryGetValue(key, out var slot)
            && (slot.Final ? _cache.Time.GetTimestamp() < slot.ValidUntil : _cache.IsTrusted(slot.FilledAt, slot.UserId)))
        {
            value = slot.Value;
            // A plain count, read by an observable counter at scrape time: recording a tagged measurement here cost
            // a lookup of the tag set on every L1 read, two or three per request.
            Interlocked.Increment(ref _hits);
            return true;
        }
        value = null!;
        Interlocked.Increment(ref _misses);
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

    /// <summary>
    /// Replaces the value of a live entry without making it younger (e.g. after a sliding write), only if it still
    /// holds <paramref name="expected"/>: a fill or invalidation that came in between wins.
    /// </summary>
    public void Update(TKey key, TValue expected, TValue value)
    {
        if (_slots.TryGetValue(key, out var slot) && !slot.Final && ReferenceEquals(slot.Value, expected))
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
        if (Volatile.Read(ref _count) >= _maxEntries && !_slots.ContainsKey(key))
        {
            // A full map drops a live entry (Redis still has it) before it would ever drop a revocation.
            if (!slot.Final || !EvictOneLive()) return;
        }
        var added = false;
        _slots.AddOrUpdate(key, _ => { added = true; return slot; }, (_, old) => old.Final && !slot.Final ? old : slot);
        if (added) Interlocked.Increment(ref _count);
    }

    private bool EvictOneLive()
    {
        foreach (var (key, slot) in _slots)
        {
            if (!slot.Final && _slots.TryRemove(new KeyValuePair<TKey, Slot>(key, slot)))
            {
                Interlocked.Decrement(ref _count);
                return true;
            }
        }
        // Every entry is final: keep this one too, beyond the bound (revocations are few and expire on their own).
        return true;
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
