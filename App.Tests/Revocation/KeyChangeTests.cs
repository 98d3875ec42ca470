using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Tokens;

namespace SessionGate.Tests.Revocation;

// The modes whose clients hold a token signed with the key (in Opaque only the gateway's internal JWT is).
public sealed class KeyChangeTests_Blacklist(DeafInstanceFixture<Blacklist> fx) : KeyChangeTests<Blacklist>(fx), IClassFixture<DeafInstanceFixture<Blacklist>>;
public sealed class KeyChangeTests_SessionCache(DeafInstanceFixture<SessionCache> fx) : KeyChangeTests<SessionCache>(fx), IClassFixture<DeafInstanceFixture<SessionCache>>;

/// <summary>
/// Instance A, and an instance <see cref="Deaf"/> on the same PostgreSQL whose Redis is another server: no pub/sub
/// message of A's ever reaches it, as if every one of them were lost.
/// </summary>
public sealed class DeafInstanceFixture<TMode> : PrivateRedisFixture<TMode> where TMode : IMode
{
    private PrivateRedis? _elsewhere;

    public override TimeSpan LocalCacheMaxAge => TimeSpan.FromSeconds(2);

    public ApiClient Deaf { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _elsewhere = await PrivateRedis.StartAsync();
        Deaf = AnotherInstance(s => s["Redis:Configuration"] = _elsewhere.Configuration + ",asyncTimeout=1000,syncTimeout=1000");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (_elsewhere is not null) await _elsewhere.DisposeAsync();
    }
}

/// <summary>A key change reaches every instance like any revocation: through PostgreSQL, even when no message does.</summary>
public abstract class KeyChangeTests<TMode>(DeafInstanceFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task An_emergency_key_revocation_reaches_an_instance_that_missed_every_message_within_a_relay_tick()
    {
        var admin = await fx.PlatformAdminAsync();
        var user = await fx.NewUserAsync();
        var login = await fx.Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await fx.Deaf.GetAsync("/auth/me", login)).StatusCode); // verified and cached there
        var kid = TokenForge.Split(login.Bearer).Header["kid"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.SendAsync(HttpMethod.Post, "/admin/keys/rotate", admin)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.SendAsync(HttpMethod.Post, $"/admin/keys/{kid}/revoke", admin)).StatusCode);

        // The key ring reloads by itself once a minute; the relay tick (0.2 s here) brings the change far sooner.
        await Watch.ShowsWithinAsync(() => fx.Deaf.GetAsync("/auth/me", login), r => r.StatusCode == HttpStatusCode.Unauthorized,
            TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(0.5), "a token signed with the revoked key on the deaf instance");
        await Problem.AssertAsync(await fx.Deaf.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
    }
}
