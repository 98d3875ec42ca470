using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.AdminConsole;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Mfa;

public sealed class MfaPolicyTests_Opaque(AppFixture<Opaque> fx, ITestOutputHelper o) : MfaPolicyTests<Opaque>(fx, o), IClassFixture<AppFixture<Opaque>>;
public sealed class MfaPolicyTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper o) : MfaPolicyTests<Blacklist>(fx, o), IClassFixture<AppFixture<Blacklist>>;
public sealed class MfaPolicyTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper o) : MfaPolicyTests<SessionCache>(fx, o), IClassFixture<AppFixture<SessionCache>>;

/// <summary>Step-up on every sensitive route, the tenant policy, the enrolment-only session and the admin's reset; every mode.</summary>
public abstract class MfaPolicyTests<TMode> where TMode : IMode
{
    protected readonly AppFixture<TMode> Fx;
    protected ApiClient Api => Fx.Api;
    protected readonly MfaSteps Steps;

    protected MfaPolicyTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        Fx = fx;
        fx.Attach(output);
        Steps = new MfaSteps(fx.Api);
    }

    [Fact]
    public async Task Every_sensitive_route_needs_a_recent_second_factor_from_a_caller_who_has_one()
    {
        var alice = await Fx.AliceAsync();
        var admin = await Fx.NewUserAsync(["admin"]);
        var login = await Api.LoginAsync(admin);
        var totp = await Steps.EnrolTotpAsync(login);
        var platform = await Fx.NewUserAsync(["platform-admin"], "system");
        var platformLogin = await Api.LoginAsync(platform);
        var platformTotp = await Steps.EnrolTotpAsync(platformLogin);
        var doomed = await Fx.NewUserAsync(["user"]);
        var target = await Fx.NewUserAsync(["user"]);
        var spare = "tmp" + Guid.NewGuid().ToString("N")[..8];
        await (await Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name = spare, permissions = new[] { "reports:read" } })).ReadAsync<AdminRole>(HttpStatusCode.Created);

        var routes = new (HttpMethod Method, string Path, object? Body, bool Platform)[]
        {
            (HttpMethod.Post, "/admin/keys/rotate", null, true),
            (HttpMethod.Post, "/admin/keys/no-such-kid/revoke", null, true),
            (HttpMethod.Post, "/admin/roles", new { name = "r" + Guid.NewGuid().ToString("N")[..8], permissions = new[] { "reports:read" } }, false),
            (HttpMethod.Put, "/admin/roles/reporter", new { permissions = new[] { "reports:read" } }, false),
            (HttpMethod.Delete, $"/admin/roles/{spare}", null, false),
            (HttpMethod.Put, $"/admin/users/{target.Id}/roles", new { roles = new[] { "user" } }, false),
            (HttpMethod.Delete, $"/admin/users/{target.Id}/mfa", null, false),
            (HttpMethod.Delete, $"/admin/users/{doomed.Id}", null, false),
            (HttpMethod.Put, "/admin/tenants/acme/login-policy", new { policy = "Multiple" }, false),
            (HttpMethod.Put, "/admin/tenants/acme/mfa-policy", new { require = "none" }, false),
            (HttpMethod.Post, "/auth/mfa/recovery-codes", null, false),
            (HttpMethod.Post, "/auth/passkeys/options", null, false),
            (HttpMethod.Post, "/auth/password", new { current_password = admin.Password, new_password = "another-long-password-" + Guid.NewGuid().ToString("N")[..6] }, false),
        };
        foreach (var (method, path, body, onPlatform) in routes)
        {
            var response = await Api.SendAsync(method, path, onPlatform ? platformLogin : login, body);
            await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.StepUpRequired);
        }
        // A caller without a factor (alice; the tenant requires none) is not asked.
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(HttpMethod.Put, "/admin/tenants/acme/login-policy", alice, new { policy = "Multiple" })).StatusCode);

        var (_, raised) = await Steps.StepUpAsync(login, new { recovery_code = totp.RecoveryCodes[0] });
        var (_, raisedPlatform) = await Steps.StepUpAsync(platformLogin, new { code = platformTotp.Code(1) });
        foreach (var (method, path, body, onPlatform) in routes)
        {
            var response = await Api.SendAsync(method, path, onPlatform ? raisedPlatform : raised, body);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Created or HttpStatusCode.NoContent or HttpStatusCode.NotFound,
                $"{method} {path} after a step-up: {(int)response.StatusCode} {text}");
            Assert.DoesNotContain("step-up-required", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_mfa_policy_is_read_and_set_by_the_tenants_admins_and_audited()
    {
        var alice = await Fx.AliceAsync();
        Assert.Equal(new MfaPolicy("none"), await (await Api.GetAsync("/admin/tenants/acme/mfa-policy", alice)).ReadAsync<MfaPolicy>());
        var bad = await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Put, "/admin/tenants/acme/mfa-policy", alice, new { require = "sometimes" }),
            HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal("require", bad.Field);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Put, "/admin/tenants/acme/mfa-policy", alice, new { require = "all", extra = 1 }),
            HttpStatusCode.BadRequest, Problems.Validation);
        var other = await Fx.NewTenantAsync();
        await Problem.AssertAsync(await Api.GetAsync($"/admin/tenants/{other}/mfa-policy", alice), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{other}/mfa-policy", alice, new { require = "all" }), HttpStatusCode.NotFound, Problems.NotFound);
        var platform = await Fx.PlatformAdminAsync();
        Assert.Equal(new MfaPolicy("admins"), await (await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{other}/mfa-policy", platform, new { require = "admins" })).ReadAsync<MfaPolicy>());
        Assert.Equal(new MfaPolicy("admins"), await (await Api.GetAsync($"/admin/tenants/{other}/mfa-policy", platform)).ReadAsync<MfaPolicy>());
        var bob = await Api.LoginAsync("acme", "bob", AppFixture<TMode>.DemoPassword);
        await Problem.AssertAsync(await Api.GetAsync("/admin/tenants/acme/mfa-policy", bob), HttpStatusCode.Forbidden, Problems.Forbidden);
        var audit = await (await Api.GetAsync("/admin/audit?type=tenant.mfa-policy-changed&tenant=" + other, platform)).ReadAsync<Paged<AuditEntry>>();
        Assert.Single(audit.Items);
    }

    [Fact]
    public async Task Under_policy_all_a_user_without_a_factor_may_only_enrol_until_it_has_one()
    {
        var tenant = await Fx.NewTenantAsync();
        var platform = await Fx.PlatformAdminAsync();
        await (await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{tenant}/mfa-policy", platform, new { require = "all" })).ReadAsync<MfaPolicy>();
        var user = await Fx.NewUserAsync(tenant: tenant);
        var login = await Api.LoginAsync(user);

        await Problem.AssertAsync(await Api.GetAsync("/api/profile", login), HttpStatusCode.Forbidden, Problems.MfaEnrollmentRequired);
        Assert.Equal("aal1", (await Api.MeAsync(login)).Session.Acr);
        await (await Api.GetAsync("/auth/mfa", login)).ReadAsync<MfaFactors>();
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/account/security")).StatusCode); // the page itself is anonymous

        var totp = await Steps.EnrolTotpAsync(login);
        if (TMode.SelfContainedAccessToken)
        {
            // The restriction rides in the access token: the next one (a refresh) is without it.
            await Problem.AssertAsync(await Api.GetAsync("/api/profile", login), HttpStatusCode.Forbidden, Problems.MfaEnrollmentRequired);
            login = await Api.RefreshAsync(login);
        }
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/profile", login)).StatusCode);
        // The last factor cannot go while the tenant requires one (after the step-up that removing it needs).
        var (_, raised) = await Steps.StepUpAsync(login, new { code = totp.Code(1) });
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, "/auth/mfa/totp", raised), HttpStatusCode.BadRequest, Problems.Validation);
        // From now on a login asks for it.
        await Steps.PasswordStepAsync(user);
    }

    [Fact]
    public async Task Under_policy_admins_only_holders_of_an_admin_permission_must_enrol()
    {
        var tenant = await Fx.NewTenantAsync();
        var platform = await Fx.PlatformAdminAsync();
        await (await Api.SendAsync(HttpMethod.Post, $"/admin/roles?tenant={tenant}", platform, new { name = "boss", permissions = new[] { "users:read" } })).ReadAsync<AdminRole>(HttpStatusCode.Created);
        await (await Api.SendAsync(HttpMethod.Post, $"/admin/roles?tenant={tenant}", platform, new { name = "reader", permissions = new[] { "reports:read" } })).ReadAsync<AdminRole>(HttpStatusCode.Created);
        await (await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{tenant}/mfa-policy", platform, new { require = "admins" })).ReadAsync<MfaPolicy>();
        var boss = await Fx.NewUserAsync(["boss"], tenant);
        var reader = await Fx.NewUserAsync(["reader"], tenant);
        await Problem.AssertAsync(await Api.GetAsync("/api/profile", await Api.LoginAsync(boss)), HttpStatusCode.Forbidden, Problems.MfaEnrollmentRequired);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/reports", await Api.LoginAsync(reader))).StatusCode);
    }

    [Fact]
    public async Task An_admin_reset_removes_every_factor_ends_the_sessions_and_is_audited()
    {
        var user = await Fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        var totp = await Steps.EnrolTotpAsync(login);
        var (_, raised) = await Steps.StepUpAsync(login, new { code = totp.Code(1) });
        await Steps.RegisterPasskeyAsync(raised, new SoftAuthenticator());
        var alice = await Fx.AliceAsync();
        var before = await (await Api.GetAsync($"/admin/users/{user.Id}", alice)).ReadAsync<UserDetail>();
        Assert.Equal(new UserMfa(true, 1, 10), before.Mfa);

        var other = await Fx.NewTenantAsync();
        var stranger = await Fx.NewUserAsync(tenant: other);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/admin/users/{stranger.Id}/mfa", alice), HttpStatusCode.NotFound, Problems.NotFound);
        var bob = await Api.LoginAsync("acme", "bob", AppFixture<TMode>.DemoPassword);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/admin/users/{user.Id}/mfa", bob), HttpStatusCode.Forbidden, Problems.Forbidden);

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, $"/admin/users/{user.Id}/mfa", alice)).StatusCode);
        await Eventually.StatusAsync(() => Api.GetAsync("/auth/me", raised), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(5));
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", raised), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        Assert.Equal(new UserMfa(false, 0, 0), (await (await Api.GetAsync($"/admin/users/{user.Id}", alice)).ReadAsync<UserDetail>()).Mfa);
        Assert.Equal("aal1", (await Api.MeAsync(await Api.LoginAsync(user))).Session.Acr); // a password is enough again
        Assert.Single((await (await Api.GetAsync($"/admin/audit?user_id={user.Id}&type=mfa.reset", alice)).ReadAsync<Paged<AuditEntry>>()).Items);
    }
}
