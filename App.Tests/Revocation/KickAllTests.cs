using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using SessionGate.Infrastructure;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Revocation;

public sealed class KickAllTests_Opaque(HeldRelayFixture<Opaque> fx) : KickAllTests<Opaque>(fx), IClassFixture<HeldRelayFixture<Opaque>>;
public sealed class KickAllTests_Blacklist(HeldRelayFixture<Blacklist> fx) : KickAllTests<Blacklist>(fx), IClassFixture<HeldRelayFixture<Blacklist>>;
public sealed class KickAllTests_SessionCache(HeldRelayFixture<SessionCache> fx) : KickAllTests<SessionCache>(fx), IClassFixture<HeldRelayFixture<SessionCache>>;

/// <summary>
/// No L1, and the relay's writer lease held by nobody that runs: a kick-all's sessions keep their rows as they were,
/// so every path that reads PostgreSQL must see that they ended by the user's session epoch alone.
/// </summary>
public sealed class HeldRelayFixture<TMode> : PrivateRedisFixture<TMode> where TMode : IMode
{
    public override TimeSpan LocalCacheMaxAge => TimeSpan.Zero;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await B.GetAsync("/health/live")).StatusCode); // both started: the row exists
        await this.HoldWriterAsync(DateTimeOffset.UtcNow.AddHours(1));
    }
}

/// <summary>
/// A kick-all (ban, password change) moves the user's session epoch in one row and leaves the sessions' own rows to
/// the relay: before the relay writes them, nothing that reads PostgreSQL may take those sessions for live.
/// </summary>
public abstract class KickAllTests<TMode>(HeldRelayFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task Sessions_a_kick_all_ended_stay_ended_through_a_flush_before_and_after_the_relay_writes_their_rows()
    {
        var alice = await fx.AliceAsync();
        var user = await fx.NewUserAsync();
        Login[] ended = [await fx.Api.LoginAsync(user, "api"), await fx.Api.LoginAsync(user, "mobile"), await fx.Api.LoginAsync(user, "desktop")];
        foreach (var login in ended) Assert.Equal(HttpStatusCode.OK, (await fx.B.GetAsync("/auth/me", login)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/logout-all", alice)).StatusCode);
        // The rows are untouched: what follows is decided by the epochs alone.
        Assert.Equal(3, await RowsNotEndedAsync(user.Id));

        var fresh = await fx.Api.LoginAsync(user, "api");
        await fx.Redis.FlushAsync();
        foreach (var api in new[] { fx.Api, fx.B })
        {
            foreach (var login in ended)
                await Problem.AssertAsync(await api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
            Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/auth/me", fresh)).StatusCode);
        }
        if (TMode.HasRefreshTokens)
        {
            foreach (var login in ended)
                await Problem.AssertAsync(await fx.B.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh }),
                    HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        }
        // Lists, counts and login policies read the same epochs: only the new session is live.
        var freshId = (await fx.Api.MeAsync(fresh)).Session.Id;
        Assert.Equal(freshId, Assert.Single(await fx.Api.GetAsync<MySession[]>("/auth/sessions", fresh)).Id);
        var listed = await fx.Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?user_id={user.Id}", alice);
        Assert.Equal(freshId, Assert.Single(listed.Items).Id);
        Assert.Equal(4, await RowsNotEndedAsync(user.Id)); // the three ended ones and the new one

        // Once an instance may write, the relay writes the rows, with the reason and nothing else.
        var relay = fx.AnotherInstance(_ => { });
        Assert.Equal(HttpStatusCode.OK, (await relay.GetAsync("/health/live")).StatusCode);
        await fx.HoldWriterAsync(DateTimeOffset.UnixEpoch);
        await Eventually.ThatAsync(() => RowsNotEndedAsync(user.Id), rows => rows == 1, TimeSpan.FromSeconds(10), "the relay writes the kicked sessions' rows");
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database)))
        {
            var reasons = await db.Sessions.Where(s => s.UserId == user.Id && s.RevokedAt != null).Select(s => s.RevokeReason).ToListAsync();
            Assert.Equal(["kicked", "kicked", "kicked"], reasons);
        }
        await fx.Redis.FlushAsync();
        foreach (var login in ended)
            await Problem.AssertAsync(await relay.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        Assert.Equal(HttpStatusCode.OK, (await relay.GetAsync("/auth/me", fresh)).StatusCode);
    }

    private async Task<int> RowsNotEndedAsync(Guid userId)
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        return await db.Sessions.CountAsync(s => s.UserId == userId && s.RevokedAt == null);
    }
}
