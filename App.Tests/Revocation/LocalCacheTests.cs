using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using SessionGate.Revocation;

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
}
