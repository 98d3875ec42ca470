using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

/// <summary>The invariants that keep a revoked session dead whatever the order of concurrent Redis writes.</summary>
public sealed class RedisEntryTests(ClusterFixture<SessionCache> fx) : IClassFixture<ClusterFixture<SessionCache>>
{
    private static SessionSnapshot Snapshot(Guid user, Guid session, long version = 1, string name = "x") =>
        new(user, Guid.NewGuid(), session, "web", name, [Guid.NewGuid()], DateTimeOffset.UtcNow,
            DateTimeOffset.UtcNow.AddHours(1), DateTimeOffset.UtcNow.AddMinutes(30), DateTimeOffset.UtcNow, version);

    [Fact]
    public async Task A_live_write_never_replaces_an_entry_read_at_a_newer_version()
    {
        var redis = fx.Factory.Services.GetRequiredService<RedisStore>();
        var (user, session) = (Guid.NewGuid(), Guid.NewGuid());
        var key = redis.SessionKey(user, session);
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, 5, "new")), TimeSpan.FromMinutes(1));
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, 4, "old")), TimeSpan.FromMinutes(1));
        Assert.Equal("new", (await redis.GetSessionAsync(key))!.Live!.Username);
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, 5, "same-version")), TimeSpan.FromMinutes(1));
        Assert.Equal("same-version", (await redis.GetSessionAsync(key))!.Live!.Username);
    }

    [Fact]
    public async Task A_live_write_never_replaces_a_tombstone_but_a_tombstone_replaces_a_live_entry()
    {
        var redis = fx.Factory.Services.GetRequiredService<RedisStore>();
        var (user, session) = (Guid.NewGuid(), Guid.NewGuid());
        var live = SessionEntry.Of(Snapshot(user, session));
        var key = redis.SessionKey(user, session);

        await redis.WriteSessionAsync(key, live, TimeSpan.FromMinutes(1));
        Assert.NotNull((await redis.GetSessionAsync(key))!.Live);

        await redis.WriteSessionAsync(key, SessionEntry.Tombstone("kicked"), TimeSpan.FromMinutes(1));
        await redis.WriteSessionAsync(key, live, TimeSpan.FromMinutes(1)); // a late sliding write or rebuild
        Assert.Equal("kicked", (await redis.GetSessionAsync(key))!.Revoked);

        var opaque = redis.OpaqueKey(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await redis.WriteSessionAsync(opaque, SessionEntry.Tombstone("banned"), TimeSpan.FromMinutes(1));
        await redis.WriteSessionAsync(opaque, live, TimeSpan.FromMinutes(1));
        Assert.Equal("banned", (await redis.GetSessionAsync(opaque))!.Revoked);
    }

    [Fact]
    public void An_entry_round_trips_through_its_compact_encoding()
    {
        var s = Snapshot(Guid.NewGuid(), Guid.NewGuid(), 42, "ålice.ü");
        var decoded = SessionEntry.Decode(SessionEntry.Of(s).Encode())!.Live!;
        Assert.Equal(s with { RoleIds = decoded.RoleIds, CreatedAt = decoded.CreatedAt, AbsoluteExpiresAt = decoded.AbsoluteExpiresAt,
            IdleExpiresAt = decoded.IdleExpiresAt, LastTouchedAt = decoded.LastTouchedAt }, decoded);
        Assert.Equal(s.RoleIds, decoded.RoleIds);
        Assert.Equal(s.IdleExpiresAt.ToUnixTimeMilliseconds(), decoded.IdleExpiresAt.ToUnixTimeMilliseconds());
        Assert.Equal("kicked", SessionEntry.Decode(SessionEntry.Tombstone("kicked").Encode())!.Revoked);
        Assert.Null(SessionEntry.Decode("L1:short"u8));
    }
}

public sealed class LostMirrorTests_Opaque(AppFixture<Opaque> fx) : LostMirrorTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class LostMirrorTests_SessionCache(AppFixture<SessionCache> fx) : LostMirrorTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

/// <summary>
/// Defence in depth: if a revocation reached PostgreSQL with no outbox row and no Redis write at all (something
/// wrote the database behind the app's back), the session's next sliding write finds out and the session ends.
/// </summary>
public abstract class LostMirrorTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_revocation_that_only_postgres_knows_takes_effect_after_the_next_sliding_write()
    {
        var user = await fx.NewUserAsync();
        var login = await fx.Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", login)).StatusCode);
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database)))
            await db.Sessions.Where(s => s.UserId == user.Id)
                .ExecuteUpdateAsync(u => u.SetProperty(s => s.RevokedAt, DateTimeOffset.UtcNow).SetProperty(s => s.RevokeReason, "kicked"));
        // The fixture slides every second and flushes every 500 ms; the L1 trusts an entry 2 s at most.
        var refused = await Eventually.StatusAsync(() => fx.Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(6));
        await Problem.AssertAsync(refused, HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        await Problem.AssertAsync(await fx.Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
    }
}
