using System.Net;
using System.Net.Http.Json;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Admin;

public sealed class AdminTests_Opaque(AppFixture<Opaque> fx, ITestOutputHelper o) : AdminTests<Opaque>(fx, o), IClassFixture<AppFixture<Opaque>>;
public sealed class AdminTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper o) : AdminTests<Blacklist>(fx, o), IClassFixture<AppFixture<Blacklist>>;
public sealed class AdminTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper o) : AdminTests<SessionCache>(fx, o), IClassFixture<AppFixture<SessionCache>>;

/// <summary>Central control: every admin change takes effect on the user's next request, in every mode.</summary>
public abstract class AdminTests<TMode> where TMode : IMode
{
    private readonly AppFixture<TMode> _fx;
    private ApiClient Api => _fx.Api;

    protected AdminTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    /// <summary>The next request sees the change: directly in Opaque/SessionCache; in Blacklist after the refresh the rejection asks for.</summary>
    private async Task<Login> NextRequestAsync(Login login, string url, HttpStatusCode expected)
    {
        if (TMode.RoleChangeNeedsRefresh)
        {
            await Problem.AssertAsync(await Api.GetAsync(url, login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "roles-changed");
            login = await Api.RefreshAsync(login);
        }
        Assert.Equal(expected, (await Api.GetAsync(url, login)).StatusCode);
        return login;
    }

    [Fact]
    public async Task A_role_change_applies_on_the_users_next_request()
    {
        var user = await _fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        await Problem.AssertAsync(await Api.GetAsync("/api/reports", login), HttpStatusCode.Forbidden, Problems.Forbidden);

        var response = await Api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", await _fx.AliceAsync(), new { roles = new[] { "reporter" } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        login = await NextRequestAsync(login, "/api/reports", HttpStatusCode.OK);
        var me = await Api.MeAsync(login);
        Assert.Equal(["reporter"], me.Roles);

        await Api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", await _fx.AliceAsync(), new { roles = Array.Empty<string>() });
        await NextRequestAsync(login, "/api/reports", HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_role_permission_change_applies_to_every_holder_on_the_next_request()
    {
        var alice = await _fx.AliceAsync();
        var role = "r" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.Created, (await Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name = role, permissions = Array.Empty<string>() })).StatusCode);
        var a = await Api.LoginAsync(await _fx.NewUserAsync([role]));
        var b = await Api.LoginAsync(await _fx.NewUserAsync([role]));
        await Problem.AssertAsync(await Api.GetAsync("/api/reports", a), HttpStatusCode.Forbidden, Problems.Forbidden);

        var updated = await Api.SendAsync(HttpMethod.Put, $"/admin/roles/{role}", alice, new { permissions = new[] { "reports:read" } });
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        a = await NextRequestAsync(a, "/api/reports", HttpStatusCode.OK);
        b = await NextRequestAsync(b, "/api/reports", HttpStatusCode.OK);

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, $"/admin/roles/{role}", alice)).StatusCode);
        await NextRequestAsync(a, "/api/reports", HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task A_kicked_session_gets_session_revoked_kicked_and_the_others_live_on()
    {
        var user = await _fx.NewUserAsync();
        var first = await Api.LoginAsync(user, "web");
        var second = await Api.LoginAsync(user, "mobile");
        var alice = await _fx.AliceAsync();
        var sessions = await Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?user_id={user.Id}", alice);
        Assert.Equal(2, sessions.Total);
        Assert.All(sessions.Items, s => Assert.Equal((user.Id, user.Username), (s.UserId, s.Username)));
        var firstId = (await Api.MeAsync(first)).Session.Id;
        Assert.Contains(sessions.Items, s => s.Id == firstId);

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{firstId}", alice)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", first), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", second)).StatusCode);
        // A retried kick succeeds (it repairs Redis if the first write was lost) and changes nothing else.
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{firstId}", alice)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", first), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{Guid.NewGuid()}", alice), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Equal(1, (await Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?user_id={user.Id}", alice)).Total);
        if (TMode.HasRefreshTokens)
            await Problem.AssertAsync(await Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = first.Refresh }), HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
    }

    [Fact]
    public async Task Kick_all_ends_every_session_of_the_user()
    {
        var user = await _fx.NewUserAsync();
        var a = await Api.LoginAsync(user);
        var b = await Api.LoginAsync(user, "desktop");
        var bystander = await Api.LoginAsync(await _fx.NewUserAsync());
        var plain = await Api.LoginAsync(await _fx.NewUserAsync(["user"]));
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/logout-all", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", a)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/logout-all", await _fx.AliceAsync())).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", a), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", b), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", bystander)).StatusCode);
        await Api.LoginAsync(user);
    }

    [Fact]
    public async Task A_ban_ends_every_session_and_refuses_login_only_with_the_right_password_until_unbanned()
    {
        var user = await _fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var alice = await _fx.AliceAsync();
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", alice, new { until = DateTimeOffset.UtcNow.AddMinutes(-1) }),
            HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", login)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", alice, new { reason = "abuse" })).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "banned");
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password }),
            HttpStatusCode.Forbidden, Problems.AccountBanned);
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = "wrong-password-123" }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        Assert.NotNull((await Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", alice)).BannedUntil);

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/unban", alice)).StatusCode);
        var again = await Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", again)).StatusCode);
    }

    [Fact]
    public async Task Logins_racing_a_ban_all_end_up_dead()
    {
        var user = await _fx.NewUserAsync();
        var alice = await _fx.AliceAsync();
        var logins = Enumerable.Range(0, 8)
            .Select(_ => Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password })).ToList();
        await Task.Delay(100);
        var ban = Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", alice, new { reason = "race" });
        await Task.WhenAll(logins);
        Assert.Equal(HttpStatusCode.NoContent, (await ban).StatusCode);
        foreach (var response in logins.Select(l => l.Result))
        {
            if (response.StatusCode != HttpStatusCode.OK)
            {
                await Problem.AssertAsync(response, HttpStatusCode.Forbidden, Problems.AccountBanned);
                continue;
            }
            var login = await ApiClient.ReadLoginAsync(response);
            await Problem.AssertAsync(await Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "banned");
        }
        Assert.Equal(0, (await Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?user_id={user.Id}", alice)).Total);
    }

    [Fact]
    public async Task Deleting_a_user_ends_its_sessions_and_its_logins()
    {
        var user = await _fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var alice = await _fx.AliceAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, $"/admin/users/{user.Id}", alice)).StatusCode);
        var after = await Api.GetAsync("/auth/me", login);
        Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await Api.GetAsync($"/admin/users/{user.Id}", alice), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/admin/users/{user.Id}", alice), HttpStatusCode.NotFound, Problems.NotFound);
    }

    [Fact]
    public async Task Users_are_created_read_patched_and_paged()
    {
        var admin = await _fx.PlatformAdminAsync();
        var tenant = await _fx.NewTenantAsync();
        var created = new List<TestUser>();
        for (var i = 0; i < 3; i++) created.Add(await _fx.NewUserAsync(tenant: tenant));

        var page1 = await Api.GetAsync<ListPage<AdminUser>>($"/admin/users?tenant={tenant}&page=1&size=2", admin);
        var page2 = await Api.GetAsync<ListPage<AdminUser>>($"/admin/users?tenant={tenant}&page=2&size=2", admin);
        Assert.Equal((3, 1, 2), (page1.Total, page1.Page, page1.Size));
        Assert.Equal(2, page1.Items.Length);
        Assert.Single(page2.Items);
        Assert.Equal(2, page2.Page);
        var names = page1.Items.Concat(page2.Items).Select(u => u.Username);
        Assert.Equal(created.Select(u => u.Username).Order(), names.Order());

        var alice = await _fx.AliceAsync();
        var user = await _fx.NewUserAsync(["user"]);
        var duplicate = await Api.SendAsync(HttpMethod.Post, "/admin/users", alice, new { username = user.Username.ToUpperInvariant(), password = "some-long-password-1", roles = Array.Empty<string>() });
        await Problem.AssertAsync(duplicate, HttpStatusCode.Conflict, Problems.Conflict);
        var weak = await Api.SendAsync(HttpMethod.Post, "/admin/users", alice, new { username = "weakling" + Guid.NewGuid().ToString("N")[..6], password = "short" });
        await Problem.AssertAsync(weak, HttpStatusCode.BadRequest, Problems.WeakPassword);
        var badRole = await Api.SendAsync(HttpMethod.Post, "/admin/users", alice, new { username = "x" + Guid.NewGuid().ToString("N")[..6], password = "some-long-password-1", roles = new[] { "no-such-role" } });
        await Problem.AssertAsync(badRole, HttpStatusCode.BadRequest, Problems.Validation);
        var badName = await Api.SendAsync(HttpMethod.Post, "/admin/users", alice, new { username = "<script>", password = "some-long-password-1" });
        await Problem.AssertAsync(badName, HttpStatusCode.BadRequest, Problems.Validation);

        var renamed = "renamed" + Guid.NewGuid().ToString("N")[..6];
        var patched = await Api.SendAsync(HttpMethod.Patch, $"/admin/users/{user.Id}", alice, new { username = renamed });
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal(renamed, (await Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", alice)).Username);
        await Api.LoginAsync(user with { Username = renamed });

        foreach (var url in new[] { "/admin/users?page=0", "/admin/users?size=1000", "/admin/users?page=abc" })
            await Problem.AssertAsync(await Api.GetAsync(url, alice), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.GetAsync("/admin/users/not-a-guid", alice), HttpStatusCode.NotFound, Problems.NotFound);
    }

    [Fact]
    public async Task An_admin_set_password_ends_the_users_sessions()
    {
        var user = await _fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var newPassword = "admin-set-" + Guid.NewGuid().ToString("N");
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(HttpMethod.Patch, $"/admin/users/{user.Id}", await _fx.AliceAsync(), new { password = newPassword })).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "password-changed");
        await Api.LoginAsync(user with { Password = newPassword });
    }

    [Fact]
    public async Task Patch_cannot_set_fields_the_api_does_not_expose()
    {
        var user = await _fx.NewUserAsync(["user"]);
        var alice = await _fx.AliceAsync();
        foreach (var body in new object[]
        {
            new { tenant_id = Guid.NewGuid() },
            new { tenant = "system" },
            new { roles = new[] { "admin" } },
            new { id = Guid.NewGuid() },
            new { banned_until = (DateTimeOffset?)null, username = "sneaky" },
        })
        {
            await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Patch, $"/admin/users/{user.Id}", alice, body), HttpStatusCode.BadRequest, Problems.Validation);
        }
        var view = await Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", alice);
        Assert.Equal(user.Username, view.Username);
        Assert.Equal(["user"], view.Roles);
        Assert.Null(view.BannedUntil);
        await Api.LoginAsync(user);
    }

    [Fact]
    public async Task Roles_are_validated_and_cannot_grant_platform_admin_outside_the_system_tenant()
    {
        var alice = await _fx.AliceAsync();
        var name = "r" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.Created, (await Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name, permissions = new[] { "reports:read" } })).StatusCode);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name, permissions = Array.Empty<string>() }), HttpStatusCode.Conflict, Problems.Conflict);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name = "x" + name, permissions = new[] { "platform:admin" } }), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Put, $"/admin/roles/{name}", alice, new { permissions = new[] { "platform:admin" } }), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name = "y" + name, permissions = new[] { "NOT A PERMISSION" } }), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name = "Bad Name!", permissions = Array.Empty<string>() }), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Put, "/admin/roles/no-such-role", alice, new { permissions = Array.Empty<string>() }), HttpStatusCode.NotFound, Problems.NotFound);
        var role = (await Api.GetAsync<RoleItem[]>("/admin/roles", alice)).Single(r => r.Name == name);
        Assert.Equal(["reports:read"], role.Permissions);
    }

    [Fact]
    public async Task A_limited_admin_cannot_grant_or_touch_more_than_it_holds()
    {
        var alice = await _fx.AliceAsync();
        var aliceId = (await Api.MeAsync(alice)).UserId;
        var helpdeskRole = "helpdesk" + Guid.NewGuid().ToString("N")[..6];
        Assert.Equal(HttpStatusCode.Created, (await Api.SendAsync(HttpMethod.Post, "/admin/roles", alice,
            new { name = helpdeskRole, permissions = new[] { "users:read", "users:write", "roles:write", "sessions:kick" } })).StatusCode);
        var helpdeskUser = await _fx.NewUserAsync([helpdeskRole]);
        var helpdesk = await Api.LoginAsync(helpdeskUser);

        // It cannot make itself (or anyone) more than it is...
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Put, $"/admin/users/{helpdeskUser.Id}/roles", helpdesk, new { roles = new[] { "admin" } }),
            HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/users", helpdesk,
            new { username = "x" + Guid.NewGuid().ToString("N")[..8], password = "some-long-password-1", roles = new[] { "admin" } }), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/roles", helpdesk,
            new { name = "x" + Guid.NewGuid().ToString("N")[..8], permissions = new[] { "audit:read" } }), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Put, $"/admin/roles/{helpdeskRole}", helpdesk,
            new { permissions = new[] { "users:read", "users:write", "roles:write", "sessions:kick", "tenant:write" } }), HttpStatusCode.Forbidden, Problems.Forbidden);
        // ...nor touch an admin who holds more.
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Patch, $"/admin/users/{aliceId}", helpdesk, new { password = "taken-over-password-1" }),
            HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/users/{aliceId}/ban", helpdesk, new { }), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/users/{aliceId}/logout-all", helpdesk), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/admin/users/{aliceId}", helpdesk), HttpStatusCode.Forbidden, Problems.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", alice)).StatusCode);
        Assert.Equal([helpdeskRole], (await Api.GetAsync<UserDetail>($"/admin/users/{helpdeskUser.Id}", alice)).Roles);

        // Within what it holds, it works.
        var plain = await _fx.NewUserAsync(["user"]);
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(HttpMethod.Put, $"/admin/users/{plain.Id}/roles", helpdesk, new { roles = new[] { "user" } })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, $"/admin/users/{plain.Id}/logout-all", helpdesk)).StatusCode);
    }

    [Fact]
    public async Task Plain_users_get_403_on_admin_routes_and_tenant_admins_on_platform_routes()
    {
        var plain = await Api.LoginAsync(await _fx.NewUserAsync(["user"]));
        foreach (var (method, url) in new[] { (HttpMethod.Get, "/admin/users"), (HttpMethod.Get, "/admin/sessions"), (HttpMethod.Get, "/admin/audit"),
                     (HttpMethod.Get, "/admin/roles"), (HttpMethod.Get, "/admin/tenants"), (HttpMethod.Post, "/admin/keys/rotate") })
            await Problem.AssertAsync(await Api.SendAsync(method, url, plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        var alice = await _fx.AliceAsync();
        await Problem.AssertAsync(await Api.GetAsync("/admin/tenants", alice), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/tenants", alice, new { slug = "evil", name = "Evil" }), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.GetAsync("/admin/users"), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
    }

    [Fact]
    public async Task Nul_characters_anywhere_are_bad_input_and_change_nothing()
    {
        var user = await _fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var alice = await _fx.AliceAsync();
        var admin = await _fx.PlatformAdminAsync();
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", alice,
            configure: r => r.Content = new StringContent("{\"reason\":\"x\\u0000\"}", System.Text.Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", login)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/admin/audit?type=a%00b", alice), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.GetAsync("/admin/users?tenant=a%00b", admin), HttpStatusCode.BadRequest, Problems.Validation);
        var slug = "nul" + Guid.NewGuid().ToString("N")[..8];
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/tenants", admin,
            configure: r => r.Content = new StringContent($"{{\"slug\":\"{slug}\",\"name\":\"x\\u0000\"}}", System.Text.Encoding.UTF8, "application/json")),
            HttpStatusCode.BadRequest, Problems.Validation);
        Assert.DoesNotContain(await Api.GetAsync<TenantItem[]>("/admin/tenants", admin), t => t.Slug == slug);
        // Refused before any query: PostgreSQL never saw the NUL (it would log "invalid byte sequence").
        Assert.DoesNotContain("invalid byte sequence", _fx.Logs.All, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Tenants_are_created_and_listed_by_the_platform_admin()
    {
        var admin = await _fx.PlatformAdminAsync();
        var slug = await _fx.NewTenantAsync();
        var tenant = Assert.Single(await Api.GetAsync<TenantItem[]>("/admin/tenants", admin), t => t.Slug == slug);
        Assert.Equal(("Test " + slug, "Multiple", (int?)null, "KickOldest"), (tenant.Name, tenant.LoginPolicy, tenant.MaxSessions, tenant.OnLimit));
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/tenants", admin, new { slug, name = "again" }), HttpStatusCode.Conflict, Problems.Conflict);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/tenants", admin, new { slug = "Not A Slug", name = "x" }), HttpStatusCode.BadRequest, Problems.Validation);
    }
}

public sealed class TimedBanTests_Opaque(ClockFixture<Opaque> fx) : TimedBanTests<Opaque>(fx), IClassFixture<ClockFixture<Opaque>>;
public sealed class TimedBanTests_Blacklist(ClockFixture<Blacklist> fx) : TimedBanTests<Blacklist>(fx), IClassFixture<ClockFixture<Blacklist>>;
public sealed class TimedBanTests_SessionCache(ClockFixture<SessionCache> fx) : TimedBanTests<SessionCache>(fx), IClassFixture<ClockFixture<SessionCache>>;

/// <summary>A ban's end is read from the app's clock: the test moves that clock rather than waiting for it.</summary>
public abstract class TimedBanTests<TMode>(ClockFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_timed_ban_refuses_login_until_it_runs_out()
    {
        var user = await fx.NewUserAsync();
        var alice = await fx.AliceAsync();
        // Seconds, not minutes: the JWTs minted after the skip must stay within Jwt:ClockSkew of the wall clock that
        // IdentityModel checks them against.
        var until = fx.Clock.Now.AddSeconds(20);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", alice, new { until })).StatusCode);
        var banned = (await fx.Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", alice)).BannedUntil;
        Assert.True(banned is { } b && Math.Abs((b - until).TotalMilliseconds) < 1, $"banned until {banned}, asked {until}");
        await Problem.AssertAsync(await fx.Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password }), HttpStatusCode.Forbidden, Problems.AccountBanned);

        fx.Clock.Skip(TimeSpan.FromSeconds(10));
        await Problem.AssertAsync(await fx.Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password }), HttpStatusCode.Forbidden, Problems.AccountBanned);
        fx.Clock.Skip(TimeSpan.FromSeconds(11));
        var login = await fx.Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", login)).StatusCode);
    }
}
