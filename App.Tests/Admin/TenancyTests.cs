using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Admin;

public sealed class TenancyTests_Opaque(AppFixture<Opaque> fx) : TenancyTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class TenancyTests_Blacklist(AppFixture<Blacklist> fx) : TenancyTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class TenancyTests_SessionCache(AppFixture<SessionCache> fx) : TenancyTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

/// <summary>A tenant admin acts only inside its own tenant: another tenant's objects answer 404 and stay unchanged.</summary>
public abstract class TenancyTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    private ApiClient Api => fx.Api;

    private async Task<(string Tenant, TestUser Victim, Login VictimLogin, Guid SessionId, string Role)> OtherTenantAsync()
    {
        var admin = await fx.PlatformAdminAsync();
        var tenant = await fx.NewTenantAsync();
        var role = "only" + Guid.NewGuid().ToString("N")[..6];
        Assert.Equal(HttpStatusCode.Created, (await Api.SendAsync(HttpMethod.Post, $"/admin/roles?tenant={tenant}", admin, new { name = role, permissions = new[] { "reports:read" } })).StatusCode);
        var victim = await fx.NewUserAsync([role], tenant);
        var login = await Api.LoginAsync(victim);
        var sid = (await Api.MeAsync(login)).Session.Id;
        return (tenant, victim, login, sid, role);
    }

    [Fact]
    public async Task Every_admin_route_answers_404_for_another_tenants_objects_and_changes_nothing()
    {
        var (tenant, victim, victimLogin, sid, role) = await OtherTenantAsync();
        var alice = await fx.AliceAsync();
        var id = victim.Id;
        var attempts = new (HttpMethod Method, string Url, object? Body)[]
        {
            (HttpMethod.Get, $"/admin/users/{id}", null),
            (HttpMethod.Patch, $"/admin/users/{id}", new { username = "hijacked" }),
            (HttpMethod.Patch, $"/admin/users/{id}", new { password = "hijacked-password-1" }),
            (HttpMethod.Delete, $"/admin/users/{id}", null),
            (HttpMethod.Put, $"/admin/users/{id}/roles", new { roles = Array.Empty<string>() }),
            (HttpMethod.Post, $"/admin/users/{id}/ban", new { reason = "x" }),
            (HttpMethod.Post, $"/admin/users/{id}/unban", null),
            (HttpMethod.Post, $"/admin/users/{id}/logout-all", null),
            (HttpMethod.Delete, $"/admin/sessions/{sid}", null),
            (HttpMethod.Put, $"/admin/roles/{role}", new { permissions = Array.Empty<string>() }),
            (HttpMethod.Delete, $"/admin/roles/{role}", null),
            (HttpMethod.Put, $"/admin/tenants/{tenant}/login-policy", new { policy = "Single" }),
        };
        foreach (var (method, url, body) in attempts)
        {
            // Naming the tenant in the query or a header is ignored for a tenant admin.
            var direct = await Api.SendAsync(method, url, alice, body);
            await Problem.AssertAsync(direct, HttpStatusCode.NotFound, Problems.NotFound);
            var named = await Api.SendAsync(method, url + (url.Contains('?') ? "&" : "?") + $"tenant={tenant}", alice, body,
                r => r.Headers.Add("X-Tenant-ID", tenant));
            await Problem.AssertAsync(named, HttpStatusCode.NotFound, Problems.NotFound);
        }

        // Nothing in the other tenant changed.
        var admin = await fx.PlatformAdminAsync();
        var view = await Api.GetAsync<UserDetail>($"/admin/users/{id}?tenant={tenant}", admin);
        Assert.Equal(victim.Username, view.Username);
        Assert.Null(view.BannedUntil);
        Assert.Equal([role], view.Roles);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/reports", victimLogin)).StatusCode);
        Assert.Equal("Multiple", (await Api.GetAsync<TenantItem[]>("/admin/tenants", admin)).Single(t => t.Slug == tenant).LoginPolicy);
    }

    [Fact]
    public async Task Listings_show_only_the_callers_tenant_whatever_it_names()
    {
        var (tenant, victim, _, sid, _) = await OtherTenantAsync();
        var alice = await fx.AliceAsync();
        var users = await Api.GetAsync<ListPage<AdminUser>>($"/admin/users?tenant={tenant}&size=100", alice);
        Assert.DoesNotContain(users.Items, u => u.Id == victim.Id);
        Assert.Contains(users.Items, u => u.Username == "alice");
        var sessions = await Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?tenant={tenant}&size=100", alice);
        Assert.DoesNotContain(sessions.Items, s => s.Id == sid);
        var audit = await Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?tenant={tenant}&user_id={victim.Id}", alice);
        Assert.Equal(0, audit.Total);

        // The platform admin may name the tenant.
        var admin = await fx.PlatformAdminAsync();
        var theirs = await Api.GetAsync<ListPage<AdminUser>>($"/admin/users?tenant={tenant}", admin);
        Assert.Contains(theirs.Items, u => u.Id == victim.Id);
        Assert.Equal(sid, Assert.Single((await Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?tenant={tenant}&user_id={victim.Id}", admin)).Items).Id);
        await Problem.AssertAsync(await Api.GetAsync("/admin/users?tenant=no-such-tenant", admin), HttpStatusCode.NotFound, Problems.NotFound);
    }

    [Fact]
    public async Task A_tenant_field_in_a_body_is_refused_and_creates_nothing()
    {
        var (tenant, _, _, _, _) = await OtherTenantAsync();
        var alice = await fx.AliceAsync();
        var username = "planted" + Guid.NewGuid().ToString("N")[..6];
        foreach (var body in new object[]
        {
            new { username, password = "planted-password-1", roles = Array.Empty<string>(), tenant },
            new { username, password = "planted-password-1", roles = Array.Empty<string>(), tenant_id = Guid.NewGuid() },
        })
            await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/users", alice, body), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant, username, password = "planted-password-1" }), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = "acme", username, password = "planted-password-1" }), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
    }
}
