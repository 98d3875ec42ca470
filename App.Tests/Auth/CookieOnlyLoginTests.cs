using System.Net;
using System.Net.Http.Json;
using SessionGate.Infrastructure;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Mfa;
using Xunit.Abstractions;

namespace SessionGate.Tests.Auth;

public sealed class CookieOnlyLoginTests_Opaque(AppFixture<Opaque> fx, ITestOutputHelper o) : CookieOnlyLoginTests<Opaque>(fx, o), IClassFixture<AppFixture<Opaque>>;
public sealed class CookieOnlyLoginTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper o) : CookieOnlyLoginTests<Blacklist>(fx, o), IClassFixture<AppFixture<Blacklist>>;
public sealed class CookieOnlyLoginTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper o) : CookieOnlyLoginTests<SessionCache>(fx, o), IClassFixture<AppFixture<SessionCache>>;

/// <summary>
/// <c>"cookie_only": true</c> (API.md, "The first hour"): in Opaque the session is the HttpOnly cookie alone and the
/// body names neither it nor the device token; the JWT modes have no session cookie and refuse it before anything is
/// checked.
/// </summary>
public abstract class CookieOnlyLoginTests<TMode> where TMode : IMode
{
    private readonly AppFixture<TMode> _fx;
    private readonly MfaSteps _steps;

    protected CookieOnlyLoginTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        _steps = new MfaSteps(fx.Api);
        fx.Attach(output);
    }

    private ApiClient Api => _fx.Api;

    private static object Body(TestUser user, bool? cookieOnly) => cookieOnly is null
        ? new { tenant = user.Tenant, username = user.Username, password = user.Password }
        : new { tenant = user.Tenant, username = user.Username, password = user.Password, cookie_only = cookieOnly };

    private static string? SessionCookie(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var cookies)
            ? cookies.Select(c => c.Split(';')[0]).FirstOrDefault(c => c.StartsWith("__Host-sid=", StringComparison.Ordinal))
            : null;

    [Fact]
    public async Task A_cookie_only_login_sets_the_cookie_and_puts_no_session_id_in_the_body()
    {
        var user = await _fx.NewUserAsync();
        var response = await Api.LoginRawAsync(Body(user, true));
        if (!TMode.CookieIsCredential)
        {
            var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.NotSupportedInMode);
            Assert.Contains("cookie_only", problem.Detail, StringComparison.Ordinal);
            Assert.False(response.Headers.Contains("Set-Cookie"));
            return;
        }
        var body = await response.ReadAsync<TokenResponse>();
        var text = await response.Content.ReadAsStringAsync();
        // The session's times and nothing else: no session id, no device token.
        Assert.NotNull(body.ExpiresAt);
        Assert.NotNull(body.IdleExpiresAt);
        Assert.Equal(new TokenResponse("Session", ExpiresAt: body.ExpiresAt, IdleExpiresAt: body.IdleExpiresAt), body);
        var cookie = SessionCookie(response);
        Assert.NotNull(cookie);
        // Neither secret shows anywhere in the body: the cookie's value and the device cookie's.
        Assert.DoesNotContain(cookie["__Host-sid=".Length..], text, StringComparison.Ordinal);
        var device = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-device=", StringComparison.Ordinal));
        Assert.Contains("httponly", device, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(device.Split(';')[0]["__Host-device=".Length..], text, StringComparison.Ordinal);

        // The cookie works, same-origin, for reads and for state changes.
        var me = await Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.Add("Cookie", cookie));
        Assert.Equal(user.Username, (await me.ReadAsync<Me>()).Username);
        var logout = await Api.SendAsync(HttpMethod.Post, "/auth/logout", configure: r =>
        {
            r.Headers.Add("Cookie", cookie);
            r.Headers.Add("Origin", "http://localhost");
        });
        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.Add("Cookie", cookie)),
            HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }

    [Theory]
    [InlineData(null)]
    [InlineData(false)]
    public async Task Without_cookie_only_the_body_keeps_the_credential(bool? cookieOnly)
    {
        var user = await _fx.NewUserAsync();
        var login = await ApiClient.ReadLoginAsync(await Api.LoginRawAsync(Body(user, cookieOnly)));
        Assert.Equal(login.Bearer, TMode.BearerIsJwt ? login.Tokens.AccessToken : login.Tokens.SessionId);
        Assert.NotNull(login.Tokens.DeviceToken);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", login)).StatusCode);
    }

    [Fact]
    public async Task A_refused_cookie_only_login_counts_no_attempt()
    {
        var user = await _fx.NewUserAsync();
        var wrong = await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = "wrong-password-1", cookie_only = true });
        if (TMode.CookieIsCredential)
        {
            // Accepted where the cookie carries the session: a wrong password is then an ordinary failed attempt.
            await Problem.AssertAsync(wrong, HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
            var failed = await Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&type=login.failed", await _fx.AliceAsync());
            Assert.Single(failed.Items);
            return;
        }
        // Refused before the password is read: a wrong password here is no failure, and a right one opens nothing.
        await Problem.AssertAsync(wrong, HttpStatusCode.BadRequest, Problems.NotSupportedInMode);
        var audit = await Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}", await _fx.AliceAsync());
        Assert.DoesNotContain(audit.Items, e => e.Type.StartsWith("login", StringComparison.Ordinal));
        var sessions = await Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?user_id={user.Id}", await _fx.AliceAsync());
        Assert.Equal(0, sessions.Total);
    }

    [Fact]
    public async Task The_second_step_of_a_login_takes_cookie_only_too()
    {
        var user = await _fx.NewUserAsync();
        var totp = await _steps.EnrolTotpAsync(await Api.LoginAsync(user));
        var challenge = await _steps.PasswordStepAsync(user);
        var mfaToken = challenge.MfaToken!;
        var response = await _steps.SecondStepAsync(mfaToken, new { code = totp.Code(1), cookie_only = true });
        if (!TMode.CookieIsCredential)
        {
            await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.NotSupportedInMode);
            // The token and the code were not spent: the same step without cookie_only signs in.
            var login = await ApiClient.ReadLoginAsync(await _steps.SecondStepAsync(mfaToken, new { code = totp.Code(1) }));
            Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", login)).StatusCode);
            return;
        }
        var body = await response.ReadAsync<TokenResponse>();
        Assert.Equal(new TokenResponse("Session", ExpiresAt: body.ExpiresAt, IdleExpiresAt: body.IdleExpiresAt), body);
        var cookie = SessionCookie(response)!;
        var me = await Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.Add("Cookie", cookie));
        Assert.Equal("aal2", (await me.ReadAsync<Me>()).Session.Acr);
    }

    [Fact]
    public async Task Cookie_only_must_be_a_boolean()
    {
        var user = await _fx.NewUserAsync();
        var response = await Api.Http.PostAsJsonAsync("/auth/login",
            new { tenant = user.Tenant, username = user.Username, password = user.Password, cookie_only = "yes" });
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.Validation);
    }
}
