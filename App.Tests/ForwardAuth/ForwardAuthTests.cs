using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Tokens;
using Xunit.Abstractions;

namespace SessionGate.Tests.ForwardAuth;

/// <summary>The app with forward-auth rules, asked the way an edge asks (in memory: the edges themselves are in EdgeTests).</summary>
public sealed class ForwardAuthFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s)
    {
        // Envoy's ext_authz sends the original request's Host: AllowedHosts names the edge's public hosts.
        s["AllowedHosts"] = "localhost;127.0.0.1;[::1];shop.example.com;api.example.com";
        void Rule(string name, string prefix, string audience)
        {
            s[$"ForwardAuth:Rules:{name}:PathPrefix"] = prefix;
            s[$"ForwardAuth:Rules:{name}:Metadata:InternalJwtAudience"] = audience;
        }
        Rule("app", "/app", "edge-app");
        Rule("strict", "/app/strict", "edge-app");
        s["ForwardAuth:Rules:strict:Metadata:InternalJwtPerRequest"] = "true";
        Rule("hosted", "/app", "edge-hosted");
        s["ForwardAuth:Rules:hosted:Hosts:0"] = "api.example.com";
        Rule("reports", "/reports", "edge-reports");
        s["ForwardAuth:Rules:reports:Metadata:RequiredPermission"] = "reports:read";
        Rule("stepup", "/money", "edge-money");
        s["ForwardAuth:Rules:stepup:Metadata:RequiredAcr"] = "aal2";
        s["ForwardAuth:Rules:stepup:Metadata:MaxAuthAge"] = "00:05:00";
    }
}

public sealed class ForwardAuthTests_Opaque(ForwardAuthFixture<Opaque> fx, ITestOutputHelper o) : ForwardAuthTests<Opaque>(fx, o), IClassFixture<ForwardAuthFixture<Opaque>>;
public sealed class ForwardAuthTests_Blacklist(ForwardAuthFixture<Blacklist> fx, ITestOutputHelper o) : ForwardAuthTests<Blacklist>(fx, o), IClassFixture<ForwardAuthFixture<Blacklist>>;
public sealed class ForwardAuthTests_SessionCache(ForwardAuthFixture<SessionCache> fx, ITestOutputHelper o) : ForwardAuthTests<SessionCache>(fx, o), IClassFixture<ForwardAuthFixture<SessionCache>>;

public abstract class ForwardAuthTests<TMode> where TMode : IMode
{
    private readonly ForwardAuthFixture<TMode> _fx;
    private ApiClient Api => _fx.Api;

    protected ForwardAuthTests(ForwardAuthFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    /// <summary>Asks /auth/verify about <paramref name="uri"/> as nginx does (X-Forwarded-*), with the caller's credential.</summary>
    private Task<HttpResponseMessage> VerifyAsync(string uri, Login? caller, Action<HttpRequestMessage>? configure = null, string host = "shop.example.com",
        string method = "GET", ApiClient? api = null) =>
        (api ?? Api).SendAsync(HttpMethod.Get, "/auth/verify", caller, configure: r =>
        {
            r.Headers.Add("X-Forwarded-Method", method);
            r.Headers.Add("X-Forwarded-Host", host);
            r.Headers.Add("X-Forwarded-Uri", uri);
            r.Headers.Add("X-Forwarded-Proto", "https");
            configure?.Invoke(r);
        });

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? Assert.Single(values) : throw new Xunit.Sdk.XunitException($"{name} is missing");

    private static JsonObject Payload(HttpResponseMessage response) => TokenForge.Split(Header(response, "X-Internal-JWT")).Payload;

    [Fact]
    public async Task A_live_session_gets_200_with_an_internal_jwt_for_the_rules_audience_and_every_copied_header()
    {
        var user = await _fx.NewUserAsync(["reporter"]);
        var login = await Api.LoginAsync(user);
        var me = await Api.MeAsync(login);
        var response = await VerifyAsync("/app/orders?page=2", login);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("", await response.Content.ReadAsStringAsync());
        Assert.True(response.Headers.CacheControl?.NoStore, "no-store");
        var payload = Payload(response);
        Assert.Equal("edge-app", payload["aud"]!.GetValue<string>());
        Assert.Equal(user.Id.ToString(), payload["sub"]!.GetValue<string>());
        Assert.Equal(me.Session.Id.ToString(), payload["sid"]!.GetValue<string>());
        Assert.Equal("acme", payload["tenant"]!.GetValue<string>());
        Assert.Equal(["reports:read"], payload["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        Assert.True(payload["exp"]!.GetValue<long>() - payload["iat"]!.GetValue<long>() <= 300);
        // The headers the edge copies are there even when empty (Caddy <= 2.8 would write a placeholder otherwise).
        Assert.Equal("", Header(response, "X-Upstream-Cookie"));
        Assert.Equal("", Header(response, "X-Upstream-Authorization"));

        // The cached per-session token, as on the built-in gateway.
        Assert.Equal(payload["jti"]!.GetValue<string>(), Payload(await VerifyAsync("/app/other", login))["jti"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_credential_is_withheld_from_what_the_edge_forwards_and_the_rest_passes()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var response = await VerifyAsync("/app", login, r => r.Headers.TryAddWithoutValidation("Cookie", $"theme=dark; __Host-sid={login.Bearer}; lang=\"en gb\""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("theme=dark; lang=\"en gb\"", Header(response, "X-Upstream-Cookie"));
        Assert.Equal("", Header(response, "X-Upstream-Authorization"));
        if (!TMode.CookieIsCredential) return;
        // Opaque: the cookie alone is the credential, and another scheme's Authorization header passes.
        response = await VerifyAsync("/app", null, r =>
        {
            r.Headers.TryAddWithoutValidation("Cookie", $"theme=dark; {login.Cookie}");
            r.Headers.TryAddWithoutValidation("Authorization", "Basic ZG93bnN0cmVhbTpvd24=");
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("theme=dark", Header(response, "X-Upstream-Cookie"));
        Assert.Equal("Basic ZG93bnN0cmVhbTpvd24=", Header(response, "X-Upstream-Authorization"));
    }

    [Fact]
    public async Task Without_a_valid_credential_the_answer_is_401_and_an_ended_session_says_why()
    {
        var user = await _fx.NewUserAsync();
        await Problem.AssertAsync(await VerifyAsync("/app", null), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        var forged = await VerifyAsync("/app", null, r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        await Problem.AssertAsync(forged, HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        Assert.True(forged.Headers.CacheControl?.NoStore, "no-store");

        var loggedOut = await Api.LoginAsync(user);
        var kicked = await Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await VerifyAsync("/app", loggedOut)).StatusCode);
        await Api.SendAsync(HttpMethod.Post, "/auth/logout", loggedOut);
        await Problem.AssertAsync(await VerifyAsync("/app", loggedOut), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        var sid = (await Api.MeAsync(kicked)).Session.Id;
        await Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{sid}", await _fx.AliceAsync());
        await Problem.AssertAsync(await VerifyAsync("/app", kicked), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
    }

    [Fact]
    public async Task A_role_change_shows_in_the_next_answer()
    {
        var user = await _fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        Assert.Equal(["user"], Payload(await VerifyAsync("/app", login))["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
        await Api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", await _fx.AliceAsync(), new { roles = new[] { "reporter" } });
        if (TMode.RoleChangeNeedsRefresh)
        {
            await Problem.AssertAsync(await VerifyAsync("/app", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "roles-changed");
            login = await Api.RefreshAsync(login);
        }
        Assert.Equal(["reporter"], Payload(await VerifyAsync("/app", login))["roles"]!.AsArray().Select(r => r!.GetValue<string>()));
    }

    [Fact]
    public async Task The_longest_prefix_wins_a_rule_naming_the_host_beats_one_for_any_host_and_nothing_else_is_guessed()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        var strict = new List<JsonObject>();
        for (var i = 0; i < 2; i++)
        {
            strict.Add(Payload(await VerifyAsync("/app/strict/pay", login, r =>
                r.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01"))));
        }
        Assert.NotEqual(strict[0]["jti"]!.GetValue<string>(), strict[1]["jti"]!.GetValue<string>());
        Assert.All(strict, p => Assert.Equal(traceId, p["trace_id"]!.GetValue<string>()));
        Assert.All(strict, p => Assert.True(p["exp"]!.GetValue<long>() - p["iat"]!.GetValue<long>() <= 60));
        Assert.Null(Payload(await VerifyAsync("/app/strictly", login))["trace_id"]); // whole segments only

        Assert.Equal("edge-hosted", Payload(await VerifyAsync("/app/x", login, host: "API.example.com:443"))["aud"]!.GetValue<string>());
        Assert.Equal("edge-app", Payload(await VerifyAsync("/APP/x", login))["aud"]!.GetValue<string>());

        foreach (var uri in new[] { "/", "/apples", "/other/app", "/app/../reports", "/app/./x", "/app//x", "/app%2Fx", "/app/%2e%2e/reports", "/app\\x", "app", "/app/%00" })
            await Problem.AssertAsync(await VerifyAsync(uri, login), HttpStatusCode.Forbidden, Problems.NoRoute);
    }

    [Fact]
    public async Task Envoys_path_prefix_form_carries_the_original_method_and_path()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var response = await Api.SendAsync(HttpMethod.Delete, "/auth/verify/app/orders/7?force=1", login, configure: r => r.Headers.Host = "shop.example.com");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("edge-app", Payload(response)["aud"]!.GetValue<string>());
        Assert.Equal("edge-hosted", Payload(await Api.SendAsync(HttpMethod.Get, "/auth/verify/app", login, configure: r => r.Headers.Host = "api.example.com"))["aud"]!.GetValue<string>());
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/verify/elsewhere", login), HttpStatusCode.Forbidden, Problems.NoRoute);
    }

    [Fact]
    public async Task A_missing_permission_is_403_and_a_weak_session_is_asked_to_step_up()
    {
        var plain = await Api.LoginAsync(await _fx.NewUserAsync(["user"]));
        var reporter = await Api.LoginAsync(await _fx.NewUserAsync(["reporter"]));
        var forbidden = await Problem.AssertAsync(await VerifyAsync("/reports/q1", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        Assert.Equal(["reports:read"], forbidden.RequiredPermissions!);
        Assert.Equal("edge-reports", Payload(await VerifyAsync("/reports/q1", reporter))["aud"]!.GetValue<string>());

        // RequiredAcr's refusal path: a password session is aal1 (issue 18's step-up raises it to aal2).
        var response = await VerifyAsync("/money/transfer", reporter, method: "POST");
        var problem = await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.StepUpRequired);
        Assert.Equal("aal2", problem.AcrValues);
        Assert.Equal(300L, problem.MaxAge);
        Assert.Contains("acr_values=\"aal2\"", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.False(response.Headers.Contains("X-Internal-JWT"));

        // And its passing path: the same session raised to aal2 by a step-up goes through, its token saying so.
        var steps = new Mfa.MfaSteps(Api);
        var totp = await steps.EnrolTotpAsync(reporter);
        var (_, raised) = await steps.StepUpAsync(reporter, new { code = totp.Code(1) });
        var passed = await VerifyAsync("/money/transfer", raised, method: "POST");
        Assert.Equal(HttpStatusCode.OK, passed.StatusCode);
        Assert.Equal("aal2", Payload(passed)["acr"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_session_that_must_enrol_a_second_factor_first_gets_no_token_for_a_service()
    {
        var tenant = await _fx.NewTenantAsync();
        var policy = await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{tenant}/mfa-policy", await _fx.PlatformAdminAsync(), new { require = "all" });
        Assert.Equal(HttpStatusCode.OK, policy.StatusCode);
        var login = await Api.LoginAsync(await _fx.NewUserAsync(tenant: tenant));
        var response = await VerifyAsync("/app/orders", login);
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, Problems.MfaEnrollmentRequired);
        Assert.False(response.Headers.Contains("X-Internal-JWT"));
    }

    [Fact]
    public async Task The_cookie_rules_apply_to_the_original_request()
    {
        if (!TMode.CookieIsCredential) return; // the cookie is a credential in Opaque only
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        void Cookie(HttpRequestMessage r) => r.Headers.TryAddWithoutValidation("Cookie", login.Cookie);
        // A state-changing original request from another origin, with the cookie: refused, as on any protected route.
        await Problem.AssertAsync(await VerifyAsync("/app/orders", null, r =>
        {
            Cookie(r);
            r.Headers.Add("Origin", "https://evil.example");
        }, method: "POST"), HttpStatusCode.Forbidden, Problems.CrossSiteRequest);
        // The same from the edge's own origin (X-Forwarded-Host and -Proto), or a GET from anywhere: fine.
        Assert.Equal(HttpStatusCode.OK, (await VerifyAsync("/app/orders", null, r =>
        {
            Cookie(r);
            r.Headers.Add("Origin", "https://shop.example.com");
        }, method: "POST")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await VerifyAsync("/app/orders", null, r =>
        {
            Cookie(r);
            r.Headers.Add("Origin", "https://evil.example");
        })).StatusCode);
    }

    [Fact]
    public async Task An_ambiguous_session_cookie_is_refused_whatever_else_the_request_carries()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        foreach (var cookie in new[] { $"__Host-sid={login.Bearer}; __Host-sid={login.Bearer}", $"__host-sid={login.Bearer}", $"a=1, __Host-sid={login.Bearer}" })
        {
            await Problem.AssertAsync(await VerifyAsync("/app", login, r => r.Headers.TryAddWithoutValidation("Cookie", cookie)),
                HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        }
    }

    [Fact]
    public async Task Only_trusted_networks_get_an_answer_and_an_outage_is_503()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        // This test client connects from loopback, which these instances do not trust.
        var elsewhere = _fx.AnotherInstance(s =>
        {
            s["ForwardAuth:TrustedNetworks:0"] = "10.20.0.0/16";
            s["ForwardAuth:TrustedNetworks:1"] = "fd00::/8";
        });
        foreach (var path in new[] { "/auth/verify", "/auth/verify/app" })
        {
            var refused = await elsewhere.SendAsync(HttpMethod.Get, path, login, configure: r => r.Headers.Add("X-Forwarded-Uri", "/app"));
            await Problem.AssertAsync(refused, HttpStatusCode.NotFound, Problems.NotFound);
            Assert.False(refused.Headers.Contains("X-Internal-JWT"));
        }

        var down = _fx.AnotherInstance(s => s["Redis:Configuration"] = "127.0.0.1:1,connectTimeout=500");
        await Problem.AssertAsync(await VerifyAsync("/app", login, api: down), HttpStatusCode.ServiceUnavailable, Problems.ServiceUnavailable);
    }
}
