using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SessionGate.Caching;

namespace SessionGate.Tests.Revocation;

/// <summary>The L1's trust rules, on the real class with a fake clock.</summary>
public sealed class LocalCacheTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly LocalCache _cache;
    private readonly LocalMap<string, string> _map;
    private readonly Guid _user = Guid.NewGuid();

    public LocalCacheTests()
    {
        _cache = new LocalCache(Options.Create(new RevocationOptions { LocalCacheMaxAge = TimeSpan.FromSeconds(2) }), _time);
        _map = _cache.CreateMap<string, string>("test", TimeSpan.FromMinutes(1));
    }

    [Fact]
    public void Nothing_is_stored_or_served_until_the_subscription_is_proven()
    {
        _map.Fill("k", "live", _user, _cache.Sequence);
        Assert.False(_map.TryGet("k", out _));
        _cache.Trust();
        _map.Fill("k", "live", _user, _cache.Sequence);
        Assert.True(_map.TryGet("k", out var value));
        Assert.Equal("live", value);
    }

    [Fact]
    public void A_live_entry_is_trusted_for_the_bound_and_not_a_tick_longer()
    {
        _cache.Trust();
        _map.Fill("k", "live", _user, _cache.Sequence);
        _time.Advance(TimeSpan.FromMilliseconds(1990));
        Assert.True(_map.TryGet("k", out _));
        _time.Advance(TimeSpan.FromMilliseconds(20));
        Assert.False(_map.TryGet("k", out _));
    }

    [Fact]
    public void A_fill_that_raced_an_invalidation_is_dropped()
    {
        _cache.Trust();
        var sequence = _cache.Sequence; // read before going to Redis
        _cache.InvalidateUser(Guid.NewGuid()); // an invalidation (for anyone) arrives meanwhile
        _map.Fill("k", "read-before-the-revocation", _user, sequence);
        Assert.False(_map.TryGet("k", out _));
    }

    [Fact]
    public void A_user_invalidation_makes_every_entry_of_that_user_stale_and_no_other()
    {
        _cache.Trust();
        var other = Guid.NewGuid();
        _map.Fill("mine", "a", _user, _cache.Sequence);
        _map.Fill("theirs", "b", other, _cache.Sequence);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        _cache.InvalidateUser(_user);
        Assert.False(_map.TryGet("mine", out _));
        Assert.True(_map.TryGet("theirs", out _));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        _map.Fill("mine", "fresh", _user, _cache.Sequence); // read after the invalidation: trusted again
        Assert.True(_map.TryGet("mine", out var fresh));
        Assert.Equal("fresh", fresh);
    }

    [Fact]
    public void Losing_the_subscription_drops_live_entries_and_keeps_revocations()
    {
        _cache.Trust();
        _map.Fill("live", "a", _user, _cache.Sequence);
        _map.FillFinal("revoked", "kicked");
        _cache.Distrust();
        Assert.False(_map.TryGet("live", out _));
        Assert.True(_map.TryGet("revoked", out var reason));
        Assert.Equal("kicked", reason);
        _map.Fill("live", "a", _user, _cache.Sequence); // not stored while distrusted
        _cache.Trust();
        Assert.False(_map.TryGet("live", out _));
    }

    [Fact]
    public void A_live_fill_never_replaces_a_revocation_and_a_revocation_lasts_its_life()
    {
        _cache.Trust();
        _map.FillFinal("k", "kicked");
        _map.Fill("k", "live", _user, _cache.Sequence);
        Assert.True(_map.TryGet("k", out var value));
        Assert.Equal("kicked", value);
        _time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        Assert.False(_map.TryGet("k", out _));
        _cache.Sweep();
        Assert.Equal(0, _map.Count);
    }

    [Fact]
    public void With_a_zero_bound_the_cache_stores_nothing()
    {
        var off = new LocalCache(Options.Create(new RevocationOptions { LocalCacheMaxAge = TimeSpan.Zero }), _time);
        var map = off.CreateMap<string, string>("off");
        off.Trust();
        map.Fill("k", "v", _user, off.Sequence);
        map.FillFinal("r", "kicked");
        Assert.False(map.TryGet("k", out _));
        Assert.False(map.TryGet("r", out _));
    }

    [Fact]
    public void A_write_back_never_replaces_an_entry_that_a_newer_fill_put_there()
    {
        _cache.Trust();
        var read = "old-roles";
        _map.Fill("k", read, _user, _cache.Sequence);
        // A request read "old-roles"; meanwhile the user changed and another request filled the new entry.
        _time.Advance(TimeSpan.FromMilliseconds(1));
        _cache.InvalidateUser(_user);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        _map.Fill("k", "new-roles", _user, _cache.Sequence);
        // The first request's write-back (a sliding update of what it read) comes last, and loses.
        _map.Update("k", read, "old-roles-slid");
        Assert.True(_map.TryGet("k", out var value));
        Assert.Equal("new-roles", value);
        // Over the entry it did read, a write-back lands.
        _map.Update("k", value, "new-roles-slid");
        Assert.True(_map.TryGet("k", out value));
        Assert.Equal("new-roles-slid", value);
    }

    [Fact]
    public void A_full_map_drops_a_live_entry_before_it_would_drop_a_revocation()
    {
        var cache = new LocalCache(Options.Create(new RevocationOptions { LocalCacheMaxAge = TimeSpan.FromSeconds(2), LocalCacheMaxEntries = 3 }), _time);
        var map = cache.CreateMap<string, string>("small", TimeSpan.FromMinutes(1));
        cache.Trust();
        for (var i = 0; i < 3; i++) map.Fill($"live{i}", "live", _user, cache.Sequence);
        Assert.Equal(3, map.Count);
        map.Fill("live-too-many", "live", _user, cache.Sequence);
        Assert.False(map.TryGet("live-too-many", out _)); // a live answer is simply not cached

        map.FillFinal("revoked", "tombstone");
        Assert.True(map.TryGet("revoked", out _));
        Assert.Equal(3, map.Count); // one live entry made room
        for (var i = 0; i < 5; i++) map.FillFinal($"revoked{i}", "tombstone");
        for (var i = 0; i < 5; i++) Assert.True(map.TryGet($"revoked{i}", out _)); // revocations are kept even past the bound
    }
}
