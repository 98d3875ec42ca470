using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Admin;

public sealed class LoginPolicyTests_Opaque(AppFixture<Opaque> fx) : LoginPolicyTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class LoginPolicyTests_Blacklist(AppFixture<Blacklist> fx) : LoginPolicyTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class LoginPolicyTests_SessionCache(AppFixture<SessionCache> fx) : LoginPolicyTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

/// <summary>Per-tenant login policies, each in a tenant of its own.</summary>
public abstract class LoginPolicyTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    private ApiClient Api => fx.Api;

    private async Task<TestUser> UserUnderPolicyAsync(object policy)
    {
        var tenant = await fx.NewTenantAsync();
        var response = await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{tenant}/login-policy", await fx.PlatformAdminAsync(), policy);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await fx.NewUserAsync(tenant: tenant);
    }

    private async Task<HttpStatusCode> StatusAsync(Login login) => (await Api.GetAsync("/auth/me", login)).StatusCode;

    [Fact]
    public async Task Single_ends_the_older_sessions_with_reason_replaced()
    {
        var user = await UserUnderPolicyAsync(new { policy = "Single" });
        var first = await Api.LoginAsync(user, "web");
        var second = await Api.LoginAsync(user, "mobile");
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", first), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "replaced");
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(second));
    }

    [Fact]
    public async Task PerDeviceType_ends_only_the_session_of_the_same_device_type()
    {
        var user = await UserUnderPolicyAsync(new { policy = "PerDeviceType" });
        var web = await Api.LoginAsync(user, "web");
        var mobile = await Api.LoginAsync(user, "mobile");
        var web2 = await Api.LoginAsync(user, "web");
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", web), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "replaced");
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(mobile));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(web2));
    }

    [Fact]
    public async Task MaxN_with_KickOldest_ends_the_oldest_session()
    {
        var user = await UserUnderPolicyAsync(new { policy = "MaxN", max_sessions = 2, on_limit = "KickOldest" });
        var a = await Api.LoginAsync(user);
        var b = await Api.LoginAsync(user);
        var c = await Api.LoginAsync(user);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", a), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "replaced");
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(b));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(c));
    }

    [Fact]
    public async Task MaxN_with_RejectNew_refuses_the_newest_login()
    {
        var user = await UserUnderPolicyAsync(new { policy = "MaxN", max_sessions = 2, on_limit = "RejectNew" });
        var a = await Api.LoginAsync(user);
        var b = await Api.LoginAsync(user);
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password }),
            HttpStatusCode.Forbidden, Problems.SessionLimitReached);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(a));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(b));
    }

    [Fact]
    public async Task The_limit_holds_under_20_concurrent_logins()
    {
        var rejecting = await UserUnderPolicyAsync(new { policy = "MaxN", max_sessions = 3, on_limit = "RejectNew" });
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            Api.LoginRawAsync(new { tenant = rejecting.Tenant, username = rejecting.Username, password = rejecting.Password })));
        Assert.Equal(3, results.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(17, results.Count(r => r.StatusCode == HttpStatusCode.Forbidden));

        var kicking = await UserUnderPolicyAsync(new { policy = "MaxN", max_sessions = 3, on_limit = "KickOldest" });
        var logins = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            Api.LoginRawAsync(new { tenant = kicking.Tenant, username = kicking.Username, password = kicking.Password })));
        Assert.All(logins, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var admin = await fx.PlatformAdminAsync();
        var live = await Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?tenant={kicking.Tenant}&user_id={kicking.Id}", admin);
        Assert.Equal(3, live.Total);
    }

    [Theory]
    [InlineData("{\"policy\":\"Sometimes\"}")]
    [InlineData("{\"policy\":\"1\"}")]
    [InlineData("{\"policy\":\"single\"}")]
    [InlineData("{\"policy\":\"MaxN\"}")]
    [InlineData("{\"policy\":\"MaxN\",\"max_sessions\":0}")]
    [InlineData("{\"policy\":\"MaxN\",\"max_sessions\":2,\"on_limit\":\"Explode\"}")]
    [InlineData("{\"policy\":\"MaxN\",\"max_sessions\":\"two\"}")]
    [InlineData("{}")]
    public async Task Bad_policies_are_refused_and_change_nothing(string body)
    {
        var tenant = await fx.NewTenantAsync();
        var admin = await fx.PlatformAdminAsync();
        var response = await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{tenant}/login-policy", admin,
            configure: r => r.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal("Multiple", (await Api.GetAsync<TenantItem[]>("/admin/tenants", admin)).Single(t => t.Slug == tenant).LoginPolicy);
    }
}
