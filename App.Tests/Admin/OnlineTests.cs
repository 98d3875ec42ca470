using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Admin;

public sealed class OnlineTests_Opaque(AppFixture<Opaque> fx) : OnlineTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class OnlineTests_Blacklist(AppFixture<Blacklist> fx) : OnlineTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class OnlineTests_SessionCache(AppFixture<SessionCache> fx) : OnlineTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

/// <summary>Who is online: one row per user with live sessions, and every live session, both paged by cursor.</summary>
public abstract class OnlineTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task Online_users_count_each_users_live_sessions_and_drop_users_whose_sessions_ended()
    {
        var tenant = await fx.NewTenantAsync();
        var admin = await fx.PlatformAdminAsync();
        var a = await fx.NewUserAsync(tenant: tenant);
        var b = await fx.NewUserAsync(tenant: tenant);
        var a1 = await fx.Api.LoginAsync(a);
        await fx.Api.LoginAsync(a, "mobile");
        var b1 = await fx.Api.LoginAsync(b);

        var online = await fx.Api.GetAsync<ListPage<OnlineUser>>($"/admin/online-users?tenant={tenant}", admin);
        Assert.Equal(2, online.Total);
        var rows = online.Items.ToDictionary(i => i.UserId);
        Assert.Equal((a.Username, 2), (rows[a.Id].Username, rows[a.Id].Sessions));
        Assert.Equal((b.Username, 1), (rows[b.Id].Username, rows[b.Id].Sessions));
        Assert.True(rows[a.Id].LastSeenAt > DateTimeOffset.UtcNow.AddMinutes(-5));

        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", b1)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", a1)).StatusCode);
        online = await fx.Api.GetAsync<ListPage<OnlineUser>>($"/admin/online-users?tenant={tenant}", admin);
        Assert.Equal(1, online.Total);
        var only = Assert.Single(online.Items);
        Assert.Equal((a.Id, 1), (only.UserId, only.Sessions));
    }

    [Fact]
    public async Task Sessions_and_online_users_page_by_cursor_without_gaps_or_repeats()
    {
        var tenant = await fx.NewTenantAsync();
        var admin = await fx.PlatformAdminAsync();
        var users = new List<TestUser>();
        for (var i = 0; i < 5; i++)
        {
            var user = await fx.NewUserAsync(tenant: tenant);
            users.Add(user);
            await fx.Api.LoginAsync(user);
        }

        async Task<List<Guid>> WalkAsync<T>(string path, Func<T, Guid> key)
        {
            var seen = new List<Guid>();
            string? after = null;
            do
            {
                var page = await fx.Api.GetAsync<ListPage<T>>($"{path}?tenant={tenant}&size=2" + (after is null ? "" : $"&after={after}"), admin);
                seen.AddRange(page.Items.Select(key));
                after = page.Next;
            }
            while (after is not null);
            return seen;
        }
        foreach (var seen in new[] { await WalkAsync<AdminSession>("/admin/sessions", s => s.Id), await WalkAsync<OnlineUser>("/admin/online-users", u => u.UserId) })
        {
            Assert.Equal(5, seen.Count);
            Assert.Equal(5, seen.Distinct().Count());
        }
        var paged = await fx.Api.GetAsync<ListPage<OnlineUser>>($"/admin/online-users?tenant={tenant}&page=3&size=2", admin);
        Assert.Single(paged.Items);
    }

    [Fact]
    public async Task Online_users_need_sessions_read_and_stay_inside_the_tenant()
    {
        var plain = await fx.Api.LoginAsync(await fx.NewUserAsync(["user"]));
        await Problem.AssertAsync(await fx.Api.GetAsync("/admin/online-users", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        var other = await fx.NewTenantAsync();
        var stranger = await fx.NewUserAsync(tenant: other);
        await fx.Api.LoginAsync(stranger);
        // alice (acme's admin) naming another tenant still sees only acme.
        var alice = await fx.AliceAsync();
        var mine = await fx.Api.GetAsync<ListPage<OnlineUser>>($"/admin/online-users?tenant={other}&size=100", alice);
        Assert.DoesNotContain(mine.Items, i => i.UserId == stranger.Id);
        await Problem.AssertAsync(await fx.Api.GetAsync("/admin/online-users?size=0", alice), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await fx.Api.GetAsync("/admin/online-users?after=not-a-guid", alice), HttpStatusCode.BadRequest, Problems.Validation);
    }
}
