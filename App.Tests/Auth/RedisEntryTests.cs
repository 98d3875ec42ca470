using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

/// <summary>The invariant that keeps a revoked session dead whatever the order of concurrent Redis writes.</summary>
public sealed class RedisEntryTests(ClusterFixture<SessionCache> fx) : IClassFixture<ClusterFixture<SessionCache>>
{
    private static SessionSnapshot Snapshot(Guid user, Guid session, long version = 1, string role = "user") =>
        new(user, Guid.NewGuid(), "acme", "x", session, "web", [role], [], DateTimeOffset.UtcNow,
            DateTimeOffset.UtcNow.AddHours(1), DateTimeOffset.UtcNow.AddMinutes(30), DateTimeOffset.UtcNow, version);

    [Fact]
    public async Task A_live_write_never_replaces_an_entry_read_at_a_newer_version()
    {
        var redis = fx.Factory.Services.GetRequiredService<RedisStore>();
        var (user, session) = (Guid.NewGuid(), Guid.NewGuid());
        await redis.SetCachedSessionAsync(user, session, CachedSession.Live(Snapshot(user, session, 5, "new-role")), TimeSpan.FromMinutes(1));
        await redis.SetCachedSessionAsync(user, session, CachedSession.Live(Snapshot(user, session, 4, "old-role")), TimeSpan.FromMinutes(1));
        Assert.Equal(["new-role"], (await redis.GetCachedSessionAsync(user, session))!.Session!.Roles);
        await redis.SetCachedSessionAsync(user, session, CachedSession.Live(Snapshot(user, session, 5, "same-version")), TimeSpan.FromMinutes(1));
        Assert.Equal(["same-version"], (await redis.GetCachedSessionAsync(user, session))!.Session!.Roles);
    }

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

public sealed class LostMirrorTests_Opaque(AppFixture<Opaque> fx) : LostMirrorTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class LostMirrorTests_SessionCache(AppFixture<SessionCache> fx) : LostMirrorTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

/// <summary>
/// If a revocation reached PostgreSQL but its Redis write was lost, the next sliding write finds out and the
/// session ends (Opaque and SessionCache check the session on every request; Blacklist relies on token expiry).
/// </summary>
public abstract class LostMirrorTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_revocation_whose_redis_write_was_lost_takes_effect_at_the_next_sliding_write()
    {
        var user = await fx.NewUserAsync();
        var login = await fx.Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", login)).StatusCode);
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database)))
            await db.Sessions.Where(s => s.UserId == user.Id)
                .ExecuteUpdateAsync(u => u.SetProperty(s => s.RevokedAt, DateTimeOffset.UtcNow).SetProperty(s => s.RevokeReason, "kicked"));
        await Task.Delay(TimeSpan.FromSeconds(1.3)); // the fixture's sliding interval is 1 s
        await Problem.AssertAsync(await fx.Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        await Problem.AssertAsync(await fx.Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
    }
}
