using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Sessions;
using SessionGate.Tests.Infrastructure;
using StackExchange.Redis;

namespace SessionGate.Tests.Revocation;

// Only the modes that keep the session in Redis slide an entry there (Blacklist keeps revocations only).
public sealed class SlidingWriteTests_Opaque(SlowFlushFixture<Opaque> fx) : SlidingWriteTests<Opaque>(fx), IClassFixture<SlowFlushFixture<Opaque>>;
public sealed class SlidingWriteTests_SessionCache(SlowFlushFixture<SessionCache> fx) : SlidingWriteTests<SessionCache>(fx), IClassFixture<SlowFlushFixture<SessionCache>>;

/// <summary>
/// No L1, the app's clock moved by the test, and no timed flush (an hour apart): a test flushes the sliding writes
/// itself, so it can change Redis between a slide and its write.
/// </summary>
public sealed class SlowFlushFixture<TMode> : PrivateRedisFixture<TMode> where TMode : IMode
{
    public override TimeSpan LocalCacheMaxAge => TimeSpan.Zero;

    protected override bool UsesTestClock => true;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        base.Configure(settings);
        settings["Session:SlidingFlushInterval"] = "01:00:00";
    }

    public SlidingWriter Writer => Factory.Services.GetRequiredService<SlidingWriter>();

    /// <summary>Past <c>Session:SlidingWriteInterval</c> (1 s in the suite): the next request slides its session.</summary>
    public void PassSlidingWriteInterval() => Clock!.Skip(TimeSpan.FromSeconds(1.2));
}

/// <summary>
/// A sliding write moves the expiry of the entry it read and nothing else: it never creates an entry Redis lost, and
/// never gives an entry read at an older security version a new life.
/// </summary>
public abstract class SlidingWriteTests<TMode>(SlowFlushFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_slide_never_recreates_an_entry_that_redis_lost()
    {
        var user = await fx.NewUserAsync(["reporter"]);
        var login = await fx.Api.LoginAsync(user);
        var key = await KeyAsync(user, login);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", login)).StatusCode);
        fx.PassSlidingWriteInterval();
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", login)).StatusCode); // queues a slide
        Assert.True(fx.Writer.Pending > 0, "the request queued no slide");
        Assert.True(await fx.Redis.Database.KeyDeleteAsync(key)); // Redis loses the entry before the flush
        await fx.Writer.FlushAsync(default);
        Assert.False(await fx.Redis.Database.KeyExistsAsync(key), "the sliding write re-created a lost entry");
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/api/reports", login)).StatusCode); // rebuilt from PostgreSQL
    }

    [Fact]
    public async Task A_slide_never_gives_new_life_to_an_entry_older_than_postgresql()
    {
        var alice = await fx.AliceAsync();
        var user = await fx.NewUserAsync(["reporter"]);
        var login = await fx.Api.LoginAsync(user);
        var key = await KeyAsync(user, login);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/api/reports", login)).StatusCode);
        fx.PassSlidingWriteInterval();
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/api/reports", login)).StatusCode); // queues a slide at the old version
        Assert.True(fx.Writer.Pending > 0, "the request queued no slide");
        var old = await fx.Redis.Database.StringGetAsync(key);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", alice, new { roles = Array.Empty<string>() })).StatusCode);
        var rewritten = VersionOf(await fx.Redis.Database.StringGetAsync(key));
        Assert.True(rewritten > VersionOf(old), $"the role change did not rewrite the entry ({VersionOf(old)} -> {rewritten})");

        await fx.WaitProvenAsync(); // the relay applied the change again too: nothing rewrites the entry after this
        // Redis holds the entry as it was before the change again (as after a restore), and the slide read at that
        // version comes due: it must leave it alone rather than give it a fresh life.
        await fx.Redis.Database.StringSetAsync(key, old, TimeSpan.FromMinutes(5));
        await fx.Writer.FlushAsync(default);
        Assert.Equal((byte[])old!, (byte[])(await fx.Redis.Database.StringGetAsync(key))!);
    }

    private static long VersionOf(RedisValue entry)
    {
        var text = Encoding.Latin1.GetString((byte[])entry!);
        Assert.StartsWith("L", text);
        return long.Parse(text[1..text.IndexOf(':')]);
    }

    // The key layout of App/Sessions/RedisStore.cs: <prefix><generation>:{o:<hash>} or <prefix><generation>:{u:<user>}:s:<session>.
    private async Task<RedisKey> KeyAsync(TestUser user, Login login)
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        var generation = await db.RedisKeyspaces.Where(k => k.Prefix == fx.Prefix).Select(k => k.Generation).SingleAsync();
        if (TMode.RedisKeyedByCredential)
            return $"{fx.Prefix}{generation}:{{o:{WebEncoders.Base64UrlEncode(SHA256.HashData(Encoding.UTF8.GetBytes(login.Bearer)))}}}";
        var session = (await fx.Api.MeAsync(login)).Session.Id;
        return $"{fx.Prefix}{generation}:{{u:{user.Id:N}}}:s:{session:N}";
    }
}
