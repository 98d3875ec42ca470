using Microsoft.Extensions.DependencyInjection;
using SessionGate.Sessions;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

/// <summary>The invariant that keeps a revoked session dead whatever the order of concurrent Redis writes.</summary>
public sealed class RedisEntryTests(ClusterFixture<SessionCache> fx) : IClassFixture<ClusterFixture<SessionCache>>
{
    private static SessionSnapshot Snapshot(Guid user, Guid session) =>
        new(user, Guid.NewGuid(), "acme", "x", session, "web", ["user"], [], DateTimeOffset.UtcNow,
            DateTimeOffset.UtcNow.AddHours(1), DateTimeOffset.UtcNow.AddMinutes(30), DateTimeOffset.UtcNow);

    [Fact]
    public async Task A_live_write_never_replaces_a_tombstone_but_a_tombstone_replaces_a_live_entry()
    {
        var redis = fx.Factory.Services.GetRequiredService<RedisStore>();
        var (user, session) = (Guid.NewGuid(), Guid.NewGuid());
        var live = CachedSession.Live(Snapshot(user, session));

        await redis.SetCachedSessionAsync(user, session, live, TimeSpan.FromMinutes(1));
        Assert.NotNull((await redis.GetCachedSessionAsync(user, session))!.Session);

        await redis.SetCachedSessionAsync(user, session, CachedSession.Tombstone("kicked"), TimeSpan.FromMinutes(1));
        await redis.SetCachedSessionAsync(user, session, live, TimeSpan.FromMinutes(1)); // a late sliding write or rebuild
        Assert.Equal("kicked", (await redis.GetCachedSessionAsync(user, session))!.Revoked);

        var hash = Secrets.Hash(Secrets.New());
        await redis.SetOpaqueAsync(hash, CachedSession.Tombstone("banned"), TimeSpan.FromMinutes(1));
        await redis.SetOpaqueAsync(hash, live, TimeSpan.FromMinutes(1));
        Assert.Equal("banned", (await redis.GetOpaqueAsync(hash))!.Revoked);
    }
}
