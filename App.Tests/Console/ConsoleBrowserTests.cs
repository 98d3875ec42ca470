using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Mfa;
using Xunit.Abstractions;

namespace SessionGate.Tests.AdminConsole;

public sealed class ConsoleBrowserTests_Opaque(AccountBrowserFixture<Opaque> fx, ITestOutputHelper o) : ConsoleBrowserTests<Opaque>(fx, o), IClassFixture<AccountBrowserFixture<Opaque>>;
public sealed class ConsoleBrowserTests_Blacklist(AccountBrowserFixture<Blacklist> fx, ITestOutputHelper o) : ConsoleBrowserTests<Blacklist>(fx, o), IClassFixture<AccountBrowserFixture<Blacklist>>;
public sealed class ConsoleBrowserTests_SessionCache(AccountBrowserFixture<SessionCache> fx, ITestOutputHelper o) : ConsoleBrowserTests<SessionCache>(fx, o), IClassFixture<AccountBrowserFixture<SessionCache>>;

/// <summary>
/// /console as an administrator uses it, in headless chromium, every mode: signing in through /account, the actions
/// reaching the API (a kicked client refused at once, a ban, a role change, the audit entries), step-up, and only the
/// actions the caller's permissions allow on offer.
/// </summary>
public abstract class ConsoleBrowserTests<TMode>(AccountBrowserFixture<TMode> fx, ITestOutputHelper output) : ConsoleBrowser<TMode>(fx, output)
    where TMode : IMode
{
    [ChromiumFact]
    public async Task Sign_in_see_a_users_sessions_kick_one_and_the_kicked_client_is_refused_at_once()
    {
        var user = await Fx.NewUserAsync();
        var laptop = await Api.LoginAsync(user, "web");
        var phone = await Api.LoginAsync(user, "mobile");
        var laptopId = (await Api.MeAsync(laptop)).Session.Id;
        var phoneId = (await Api.MeAsync(phone)).Session.Id;

        var page = await AliceAsync();
        await ReadyAsync(page, "online");
        var row = $"tr[data-user='{user.Id}']";
        Assert.Equal("2", (await page.InnerTextAsync(row + " td:nth-child(2)")).Trim());
        await page.ClickAsync($"[data-sessions-of='{user.Id}']");
        await ReadyAsync(page, "online");
        Assert.Contains("web", await page.InnerTextAsync($"tr[data-session='{laptopId}']"), StringComparison.Ordinal);
        Assert.Contains("mobile", await page.InnerTextAsync($"tr[data-session='{phoneId}']"), StringComparison.Ordinal);
        await ScreenshotAsync(page, "online", readme: true);

        await ActAsync(page, $"[data-kick='{laptopId}']", "Session kicked", "online");
        await Problem.AssertAsync(await Api.GetAsync("/api/profile", laptop), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/profile", phone)).StatusCode);
        Assert.Equal(0, await CountAsync(page, $"tr[data-session='{laptopId}']"));
        Assert.Equal(1, await CountAsync(page, $"tr[data-session='{phoneId}']"));
        Assert.Equal("1", (await page.InnerTextAsync(row + " td:nth-child(2)")).Trim());

        await ActAsync(page, $"[data-kick-all='{user.Id}']", "was ended", "online", confirm: true);
        await Problem.AssertAsync(await Api.GetAsync("/api/profile", phone), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        Assert.Equal(0, await CountAsync(page, row));
        NoPageErrors();
    }

    [ChromiumFact]
    public async Task Change_a_role_ban_a_user_and_read_the_audit_entries()
    {
        var user = await Fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.Forbidden, (await Api.GetAsync("/api/reports", login)).StatusCode);

        var page = await AliceAsync();
        await OpenAsync(page, "users", "users");
        await page.FillAsync("#user-search", user.Username[..9]);
        await page.ClickAsync("#user-search-submit");
        await ReadyAsync(page, "users");
        Assert.Equal(1, await CountAsync(page, "tr[data-user]"));
        await page.ClickAsync($"tr[data-user='{user.Id}']");
        await ReadyAsync(page, "user");
        Assert.Equal(user.Username, await page.InnerTextAsync("#user-name"));

        await page.UncheckAsync("[data-role='user']");
        await page.CheckAsync("[data-role='reporter']");
        await ActAsync(page, "[data-action='save-roles']", "Roles saved", "user");
        Assert.Contains("reporter", await page.InnerTextAsync("#user-roles"), StringComparison.Ordinal);
        if (TMode.RoleChangeNeedsRefresh)
        {
            await Problem.AssertAsync(await Api.GetAsync("/api/reports", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "roles-changed");
            login = await Api.RefreshAsync(login);
        }
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/reports", login)).StatusCode);
        await ScreenshotAsync(page, "user", readme: true);

        await page.FillAsync("#ban-reason", "console test");
        await ActAsync(page, "[data-action='ban']", "is banned", "user", confirm: true);
        await Problem.AssertAsync(await Api.GetAsync("/api/profile", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "banned");
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password }),
            HttpStatusCode.Forbidden, Problems.AccountBanned);
        Assert.Contains("banned", await page.InnerTextAsync("#user-status"), StringComparison.Ordinal);

        await page.ClickAsync($"a[href='#audit/{user.Id}']");
        await ReadyAsync(page, "audit");
        var banned = await page.InnerTextAsync("tr[data-type='user.banned']");
        Assert.Contains("alice", banned, StringComparison.Ordinal);
        Assert.Contains(user.Username, banned, StringComparison.Ordinal);
        Assert.Contains("console test", banned, StringComparison.Ordinal);
        Assert.Contains("reporter", await page.InnerTextAsync("tr[data-type='user.roles-changed']"), StringComparison.Ordinal);
        await ScreenshotAsync(page, "audit", readme: true);
        await page.FillAsync("#audit-type", "user.banned");
        await page.ClickAsync("#audit-filter-submit");
        await ReadyAsync(page, "audit");
        Assert.Equal(1, await CountAsync(page, "tr[data-audit]"));

        await OpenAsync(page, "user/" + user.Id, "user");
        await ActAsync(page, "[data-action='unban']", "may sign in again", "user");
        Assert.Equal(HttpStatusCode.OK, (await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password })).StatusCode);
        NoPageErrors();
    }

    [ChromiumFact]
    public async Task A_sensitive_action_asks_for_a_second_factor_then_runs()
    {
        var admin = await Fx.NewUserAsync(["admin"]);
        var target = await Fx.NewUserAsync(["user"]);
        var page = await SignInAsync(admin);
        // A factor enrolled after this console signed in: its session is aal1, so a sensitive route asks for a step-up.
        var totp = await new MfaSteps(Api).EnrolTotpAsync(await Api.LoginAsync(admin));

        await OpenAsync(page, "user/" + target.Id, "user");
        await page.CheckAsync("[data-role='reporter']");
        await page.ClickAsync("[data-action='save-roles']");
        await page.Locator("#stepup").WaitForAsync(new() { State = Microsoft.Playwright.WaitForSelectorState.Visible });
        Assert.True(await page.Locator("#stepup-code-form").IsVisibleAsync());
        Assert.False(await page.Locator("#stepup-passkey").IsVisibleAsync());
        await ScreenshotAsync(page, "step-up");
        var right = totp.Code(1);
        await page.FillAsync("#stepup-code", right == "000000" ? "999999" : "000000");
        await page.ClickAsync("#stepup-code-submit");
        await MessageAsync(page, "not accepted");
        Assert.Equal(["user"], await RolesOfAsync(target));

        await page.FillAsync("#stepup-code", right);
        await page.ClickAsync("#stepup-code-submit");
        await MessageAsync(page, "Roles saved");
        await ReadyAsync(page, "user");
        Assert.False(await page.Locator("#stepup").IsVisibleAsync());
        Assert.Equal(["reporter", "user"], await RolesOfAsync(target));

        // Within the step-up's lifetime the next sensitive action asks nothing more.
        await page.UncheckAsync("[data-role='reporter']");
        await ActAsync(page, "[data-action='save-roles']", "Roles saved", "user");
        Assert.False(await page.Locator("#stepup").IsVisibleAsync());
        Assert.Equal(["user"], await RolesOfAsync(target));
        NoPageErrors();
    }

    [ChromiumFact]
    public async Task A_tenant_admin_has_no_tenants_or_keys_and_the_platform_admin_manages_any_tenant()
    {
        var alice = await AliceAsync();
        Assert.Equal(["online", "users", "roles", "audit", "policies"], await NavAsync(alice));
        await OpenAsync(alice, "tenants", "online"); // not offered: the console goes to its first page
        await OpenAsync(alice, "keys", "online");
        Assert.False(await alice.Locator("#tenant-pick").IsVisibleAsync());
        await OpenAsync(alice, "policies", "policies");
        Assert.Equal("Multiple", await alice.InnerTextAsync("#login-policy-now"));
        Assert.Equal(1, await CountAsync(alice, "#login-policy-save"));
        Assert.Equal(1, await CountAsync(alice, "#mfa-policy-save"));
        await ScreenshotAsync(alice, "policies");
        await OpenAsync(alice, "roles", "roles");
        Assert.Equal(1, await CountAsync(alice, "[data-save-role='reporter']"));
        await ScreenshotAsync(alice, "roles");

        var platform = await SignInAsync("system", "admin", AppFixture<TMode>.AdminPassword);
        Assert.Equal(["online", "users", "roles", "audit", "policies", "tenants", "keys"], await NavAsync(platform));
        await OpenAsync(platform, "tenants", "tenants");
        Assert.Equal(1, await CountAsync(platform, "tr[data-tenant='acme']"));
        await ScreenshotAsync(platform, "tenants");
        await platform.ClickAsync("[data-manage='acme']");
        await platform.WaitForFunctionAsync("() => location.hash === '#users' && document.body.dataset.ready === 'users'");
        Assert.Equal("acme", await platform.InputValueAsync("#tenant-select"));
        await platform.FillAsync("#user-search", "alice");
        await platform.ClickAsync("#user-search-submit");
        await ReadyAsync(platform, "users");
        Assert.Contains("alice", await platform.InnerTextAsync("#view table"), StringComparison.Ordinal);

        await OpenAsync(platform, "keys", "keys");
        var before = await CountAsync(platform, "tr[data-kid]");
        await platform.ClickAsync("[data-action='rotate-key']");
        await MessageAsync(platform, "New signing key");
        await ReadyAsync(platform, "keys");
        Assert.Equal(before + 1, await CountAsync(platform, "tr[data-kid]"));
        NoPageErrors();
    }

    [ChromiumFact]
    public async Task A_caller_is_offered_only_what_its_permissions_allow_and_the_page_fits_a_phone()
    {
        var role = "viewer" + Guid.NewGuid().ToString("N")[..6];
        var created = await Api.SendAsync(HttpMethod.Post, "/admin/roles", await Fx.AliceAsync(), new { name = role, permissions = new[] { "sessions:read", "users:read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var viewer = await Fx.NewUserAsync([role]);
        var other = await Fx.NewUserAsync();
        var otherLogin = await Api.LoginAsync(other);

        var page = await SignInAsync(viewer, width: 390);
        Assert.Equal(["online", "users", "policies"], await NavAsync(page));
        await ReadyAsync(page, "online");
        await page.ClickAsync($"[data-sessions-of='{other.Id}']");
        await ReadyAsync(page, "online");
        Assert.True(await CountAsync(page, "tr[data-session]") >= 1);
        Assert.Equal(0, await CountAsync(page, "[data-kick]"));
        Assert.Equal(0, await CountAsync(page, "[data-kick-all]"));
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"), "the page is wider than a phone");
        await ScreenshotAsync(page, "phone", readme: true);

        await OpenAsync(page, "users", "users");
        Assert.Equal(0, await CountAsync(page, "#create-user"));
        await OpenAsync(page, "user/" + other.Id, "user");
        Assert.Equal(0, await CountAsync(page, "[data-action]"));
        Assert.Equal(1, await CountAsync(page, "#user-sessions"));
        await OpenAsync(page, "policies", "policies");
        Assert.Equal(1, await CountAsync(page, "#login-policy-now"));
        Assert.Equal(0, await CountAsync(page, "#login-policy-save"));
        Assert.Equal(0, await CountAsync(page, "#mfa-policy"));
        await OpenAsync(page, "audit", "online");
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/profile", otherLogin)).StatusCode);

        var bob = await SignInAsync("acme", "bob", AppFixture<TMode>.DemoPassword);
        await ReadyAsync(bob, "denied");
        Assert.True(await bob.Locator("#denied").IsVisibleAsync());
        Assert.Empty(await NavAsync(bob));
        NoPageErrors();
    }

    private async Task<string[]> RolesOfAsync(TestUser user)
    {
        var body = await (await Api.GetAsync($"/admin/users/{user.Id}", await Fx.AliceAsync())).ReadAsync<UserDetail>();
        return [.. body.Roles.Order(StringComparer.Ordinal)];
    }
}
