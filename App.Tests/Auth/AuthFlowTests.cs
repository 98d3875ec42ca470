using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Auth;

public sealed class AuthFlowTests_Opaque(AppFixture<Opaque> fx, ITestOutputHelper output) : AuthFlowTests<Opaque>(fx, output), IClassFixture<AppFixture<Opaque>>;
public sealed class AuthFlowTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper output) : AuthFlowTests<Blacklist>(fx, output), IClassFixture<AppFixture<Blacklist>>;
public sealed class AuthFlowTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper output) : AuthFlowTests<SessionCache>(fx, output), IClassFixture<AppFixture<SessionCache>>;

/// <summary>The self-service flows; every test runs once per mode.</summary>
public abstract class AuthFlowTests<TMode> where TMode : IMode
{
    protected readonly AppFixture<TMode> Fx;
    protected ApiClient Api => Fx.Api;

    protected AuthFlowTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        Fx = fx;
        fx.Attach(output);
    }

    [Fact]
    public async Task Login_returns_the_mode_credential_and_me_shows_the_user_and_public_session()
    {
        var user = await Fx.NewUserAsync(["user"]);
        var response = await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password, device_type = "mobile" });
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        var login = await ApiClient.ReadLoginAsync(response);
        var raw = login.Body.GetRawText();
        var tokens = login.Tokens;
        if (TMode.BearerIsJwt)
        {
            Assert.Equal(new TokenResponse("Bearer", AccessToken: login.Bearer, ExpiresIn: tokens.ExpiresIn, RefreshToken: login.Refresh,
                RefreshExpiresIn: tokens.RefreshExpiresIn, DeviceToken: tokens.DeviceToken), tokens);
            Assert.Equal(3, login.Bearer.Split('.').Length);
            Assert.True(tokens.ExpiresIn is > 0 and <= 900);
            Assert.Equal(SessionSecrets.EncodedLength, login.Refresh!.Length);
            Assert.True(tokens.RefreshExpiresIn > 0);
            Assert.Null(login.Cookie);
        }
        else
        {
            Assert.Equal(new TokenResponse("Session", SessionId: login.Bearer, ExpiresAt: tokens.ExpiresAt, IdleExpiresAt: tokens.IdleExpiresAt,
                DeviceToken: tokens.DeviceToken), tokens);
            Assert.Equal(SessionSecrets.EncodedLength, login.Bearer.Length);
            Assert.DoesNotContain("eyJ", raw, StringComparison.Ordinal); // no JWT ever reaches an Opaque client
            Assert.Equal("__Host-sid=" + login.Bearer, login.Cookie);
            var setCookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-sid=", StringComparison.Ordinal)).ToLowerInvariant();
            Assert.Contains("httponly", setCookie);
            Assert.Contains("secure", setCookie);
            Assert.Contains("samesite=strict", setCookie);
            Assert.Contains("path=/", setCookie);
            Assert.True(tokens.ExpiresAt > tokens.IdleExpiresAt);
        }

        var meResponse = await Api.GetAsync("/auth/me", login);
        Assert.Equal("no-store", meResponse.Headers.CacheControl?.ToString());
        Assert.DoesNotContain(login.Bearer, await meResponse.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var me = await Api.MeAsync(login);
        Assert.Equal(user.Id, me.UserId);
        Assert.Equal(user.Username, me.Username);
        Assert.Equal("acme", me.Tenant);
        Assert.Equal(["user"], me.Roles);
        Assert.NotEqual(Guid.Empty, me.Session.Id);
        Assert.Equal("mobile", me.Session.DeviceType);
        Assert.True(me.Session.ExpiresAt > me.Session.CreatedAt);
    }

    [Fact]
    public async Task Every_login_issues_a_new_credential()
    {
        var user = await Fx.NewUserAsync();
        var first = await Api.LoginAsync(user);
        var second = await Api.LoginAsync(user);
        Assert.NotEqual(first.Bearer, second.Bearer);
        var a = await Api.MeAsync(first);
        var b = await Api.MeAsync(second);
        Assert.NotEqual(a.Session.Id, b.Session.Id);
    }

    [Fact]
    public async Task Unknown_tenant_unknown_user_and_wrong_password_get_the_same_answer()
    {
        var user = await Fx.NewUserAsync();
        var bodies = new List<ProblemDocument>();
        foreach (var attempt in new[]
        {
            new { tenant = "no-such-tenant", username = user.Username, password = user.Password },
            new { tenant = "acme", username = "no-such-user", password = user.Password },
            new { tenant = "acme", username = user.Username, password = "wrong-password-123" },
        })
        {
            var response = await Api.LoginRawAsync(attempt);
            bodies.Add(await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.InvalidCredentials));
        }
        var shapes = bodies.Select(b => b with { TraceId = null }).ToList();
        Assert.Single(shapes.Distinct());
    }

    [Theory]
    [InlineData("{\"username\":\"bob\",\"password\":\"demo-password-123\"}")]
    [InlineData("{\"tenant\":\"acme\",\"password\":\"demo-password-123\"}")]
    [InlineData("{\"tenant\":\"acme\",\"username\":\"bob\"}")]
    [InlineData("{\"tenant\":\"acme\",\"username\":\"bob\",\"password\":\"demo-password-123\",\"device_type\":\"toaster\"}")]
    [InlineData("{\"tenant\":\"acme\",\"username\":\"bob\",\"password\":\"demo-password-123\",\"device_type\":7}")]
    [InlineData("{\"tenant\":\"acme\",\"username\":\"bob\",\"password\":")]
    [InlineData("[1,2,3]")]
    [InlineData("")]
    [InlineData("{\"tenant\":\"acme\",\"username\":\"LONG\",\"password\":\"demo-password-123\"}")]
    [InlineData("{\"tenant\":\"acme\\u0000\",\"username\":\"bob\",\"password\":\"demo-password-123\"}")]
    [InlineData("{\"tenant\":\"acme\",\"username\":\"bob\\u0000\",\"password\":\"demo-password-123\"}")]
    public async Task Malformed_login_gets_400_validation(string body)
    {
        body = body.Replace("LONG", new string('x', 5000));
        var response = await Api.Http.PostAsync("/auth/login", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.Validation);
    }

    [Fact]
    public async Task Login_with_a_non_json_body_is_refused_with_a_problem()
    {
        var response = await Api.Http.PostAsync("/auth/login", new StringContent("tenant=acme", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded"));
        await Problem.AssertAsync(response, HttpStatusCode.UnsupportedMediaType, Problems.UnsupportedMediaType);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")]
    [InlineData("Bearer ")]
    [InlineData("Basic YWxpY2U6cGFzc3dvcmQ=")]
    [InlineData("Bearer not-a-credential-at-all")]
    [InlineData("Bearer OVERSIZED")]
    public async Task Missing_never_issued_or_malformed_credentials_get_401_unauthenticated(string? authorization)
    {
        var response = await Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r =>
        {
            if (authorization is not null) r.Headers.TryAddWithoutValidation("Authorization", authorization.Replace("OVERSIZED", new string('A', 20_000)));
        });
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
    }

    [Fact]
    public async Task Logout_kills_the_credential_at_once()
    {
        var user = await Fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var other = await Api.LoginAsync(user);
        var response = await Api.SendAsync(HttpMethod.Post, "/auth/logout", login);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        await Problem.AssertAsync(await Api.GetAsync("/api/profile", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", other)).StatusCode);
        if (TMode.HasRefreshTokens)
        {
            var refresh = await Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
            await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        }
    }

    [Fact]
    public async Task Logout_all_ends_every_session_including_the_current_one()
    {
        var user = await Fx.NewUserAsync();
        var a = await Api.LoginAsync(user);
        var b = await Api.LoginAsync(user, "desktop");
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, "/auth/logout-all", a)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", a), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", b), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        var fresh = await Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", fresh)).StatusCode);
    }

    [Fact]
    public async Task Own_sessions_are_listed_and_one_can_be_ended_but_not_someone_elses()
    {
        var user = await Fx.NewUserAsync();
        var web = await Api.LoginAsync(user, "web");
        var mobile = await Api.LoginAsync(user, "mobile");
        var response = await Api.GetAsync("/auth/sessions", web);
        var list = await response.ReadAsync<MySession[]>();
        Assert.Equal(2, list.Length);
        var current = list.Single(s => s.Current);
        Assert.Equal(((await Api.MeAsync(web)).Session.Id, "web"), (current.Id, current.DeviceType));
        var mobileId = list.Single(s => !s.Current).Id;
        Assert.Equal("mobile", list.Single(s => !s.Current).DeviceType);
        var raw = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(web.Bearer, raw, StringComparison.Ordinal);
        Assert.DoesNotContain(mobile.Bearer, raw, StringComparison.Ordinal);

        var stranger = await Api.LoginAsync(await Fx.NewUserAsync());
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/auth/sessions/{mobileId}", stranger), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/auth/sessions/{Guid.NewGuid()}", web), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", mobile)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, $"/auth/sessions/{mobileId}", web)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", mobile), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        Assert.Equal(current.Id, Assert.Single(await Api.GetAsync<MySession[]>("/auth/sessions", web)).Id);
    }

    [Fact]
    public async Task Password_change_ends_the_other_sessions_and_keeps_the_current_one()
    {
        var user = await Fx.NewUserAsync();
        var current = await Api.LoginAsync(user);
        var other = await Api.LoginAsync(user, "mobile");
        var newPassword = "new-" + Guid.NewGuid().ToString("N");

        var wrong = await Api.SendAsync(HttpMethod.Post, "/auth/password", current, new { current_password = "wrong-password-123", new_password = newPassword });
        await Problem.AssertAsync(wrong, HttpStatusCode.Forbidden, Problems.InvalidCredentials);
        var weak = await Api.SendAsync(HttpMethod.Post, "/auth/password", current, new { current_password = user.Password, new_password = "short" });
        await Problem.AssertAsync(weak, HttpStatusCode.BadRequest, Problems.WeakPassword);
        var missing = await Api.SendAsync(HttpMethod.Post, "/auth/password", current, new { current_password = user.Password });
        await Problem.AssertAsync(missing, HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", other)).StatusCode); // the failures changed nothing

        var ok = await Api.SendAsync(HttpMethod.Post, "/auth/password", current, new { current_password = user.Password, new_password = newPassword });
        Assert.Equal(HttpStatusCode.NoContent, ok.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", current)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", other), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "password-changed");
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Api.LoginAsync(user with { Password = newPassword });
    }

    [Fact]
    public async Task Reports_need_the_reports_permission_and_profile_only_authentication()
    {
        var plain = await Api.LoginAsync(await Fx.NewUserAsync(["user"]));
        var reporter = await Api.LoginAsync(await Fx.NewUserAsync(["reporter"]));
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/profile", plain)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/api/reports", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/reports", reporter)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/api/reports"), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
    }

    [Fact]
    public async Task Revocation_survives_a_redis_flush_because_postgres_is_the_source_of_truth()
    {
        var user = await Fx.NewUserAsync(["user"]);
        var revoked = await Api.LoginAsync(user);
        var live = await Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, "/auth/logout", revoked)).StatusCode);

        Assert.True(await RedisAdmin.DeletePrefixAsync(Fx.RedisConfiguration, Fx.Prefix) > 0);

        await Problem.AssertAsync(await Api.GetAsync("/auth/me", revoked), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", live)).StatusCode);
        // And again once Redis has been re-warmed from PostgreSQL.
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", revoked), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", live)).StatusCode);
    }

    [Fact]
    public async Task With_redis_unreachable_requests_fail_closed_or_fall_back_to_postgres_as_configured()
    {
        var user = await Fx.NewUserAsync();
        var live = await Api.LoginAsync(user);
        var revoked = await Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, "/auth/logout", revoked)).StatusCode);

        var closed = Fx.AnotherInstance(s => s["Redis:Configuration"] = "127.0.0.1:1,connectTimeout=500");
        await Problem.AssertAsync(await closed.GetAsync("/auth/me", live), HttpStatusCode.ServiceUnavailable, Problems.ServiceUnavailable);
        // The revoked one is refused either way: 503, or (once this instance's relay has replayed the outbox into its
        // own L1) session-revoked. Never accepted.
        var refused = await closed.GetAsync("/api/profile", revoked);
        if (refused.StatusCode == HttpStatusCode.Unauthorized) await Problem.AssertAsync(refused, HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        else await Problem.AssertAsync(refused, HttpStatusCode.ServiceUnavailable, Problems.ServiceUnavailable);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await closed.Management.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await closed.GetAsync("/health/live")).StatusCode);
        await Problem.AssertAsync(await closed.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password }),
            HttpStatusCode.ServiceUnavailable, Problems.ServiceUnavailable);

        var fallback = Fx.AnotherInstance(s =>
        {
            s["Redis:Configuration"] = "127.0.0.1:1,connectTimeout=500";
            s["Auth:RedisUnavailable"] = "FallbackToPostgres";
        });
        Assert.Equal(HttpStatusCode.OK, (await fallback.GetAsync("/auth/me", live)).StatusCode);
        await Problem.AssertAsync(await fallback.GetAsync("/auth/me", revoked), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }

    [Fact]
    public async Task A_revocation_on_one_instance_takes_effect_on_another_at_once()
    {
        var second = Fx.AnotherInstance(_ => { });
        var user = await Fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/auth/me", login)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await second.SendAsync(HttpMethod.Post, "/auth/logout", login)).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }

    [Fact]
    public async Task No_password_token_session_id_or_cookie_reaches_the_logs()
    {
        var user = await Fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        await Api.GetAsync("/auth/me", login);
        await Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.Add("Cookie", login.Cookie ?? "__Host-sid=" + login.Bearer));
        await Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = "wrong-but-secret-77" });
        await Api.SendAsync(HttpMethod.Post, "/auth/password", login, new { current_password = user.Password, new_password = "brand-new-secret-88" });
        if (login.Refresh is not null) await Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
        await Api.SendAsync(HttpMethod.Post, "/auth/logout", login);
        await Api.GetAsync("/auth/me", login); // a revoked credential is logged as rejected, without itself

        var logs = Fx.Logs.All;
        Assert.Contains("/auth/login", logs); // the capture works
        foreach (var secret in new[] { user.Password, "wrong-but-secret-77", "brand-new-secret-88", login.Bearer, login.Refresh, "Bearer " })
        {
            if (secret is not null) Assert.DoesNotContain(secret, logs, StringComparison.Ordinal);
        }
        Assert.DoesNotContain(login.Bearer[..20], logs, StringComparison.Ordinal);
    }
}
