using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

public sealed class DeviceTokenTests_Opaque(AccountLimitFixture<Opaque> fx) : DeviceTokenTests<Opaque>(fx), IClassFixture<AccountLimitFixture<Opaque>>;
public sealed class DeviceTokenTests_Blacklist(AccountLimitFixture<Blacklist> fx) : DeviceTokenTests<Blacklist>(fx), IClassFixture<AccountLimitFixture<Blacklist>>;
public sealed class DeviceTokenTests_SessionCache(AccountLimitFixture<SessionCache> fx) : DeviceTokenTests<SessionCache>(fx), IClassFixture<AccountLimitFixture<SessionCache>>;

/// <summary>The device token of API.md ("Logins that the owner always gets through"): body and cookie, in every mode.</summary>
public abstract class DeviceTokenTests<TMode>(AccountLimitFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_login_returns_the_device_token_in_the_body_and_as_a_long_lived_host_cookie()
    {
        var user = await fx.NewUserAsync();
        var response = await fx.Api.Attempt("198.51.100.120", user, user.Password);
        var login = await ApiClient.ReadLoginAsync(response);
        var token = login.Tokens.DeviceToken!;
        Assert.True(token.Length is > 40 and < 400, token);
        var cookie = response.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-device=", StringComparison.Ordinal));
        Assert.StartsWith($"__Host-device={token};", cookie);
        var attributes = cookie.ToLowerInvariant();
        Assert.Contains("httponly", attributes);
        Assert.Contains("secure", attributes);
        Assert.Contains("samesite=strict", attributes);
        Assert.Contains("path=/", attributes);
        Assert.DoesNotContain("domain=", attributes); // the __Host- prefix forbids it
        var maxAge = int.Parse(attributes.Split(';').Select(a => a.Trim()).Single(a => a.StartsWith("max-age=", StringComparison.Ordinal))["max-age=".Length..]);
        Assert.True(maxAge >= 30 * 24 * 3600, $"max-age {maxAge}");
        // A failed login issues none.
        var failed = await fx.Api.Attempt("198.51.100.120", user);
        Assert.False(failed.Headers.TryGetValues("Set-Cookie", out var set) && set.Any(c => c.StartsWith("__Host-device=", StringComparison.Ordinal)));
        Assert.DoesNotContain("device_token", await failed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cookie_alone_makes_a_known_device_and_the_token_is_renewed_at_each_login()
    {
        var user = await fx.NewUserAsync();
        var token = await fx.Api.DeviceTokenOfAsync("198.51.100.121", user);
        for (var i = 0; i < 5; i++) await fx.Api.Attempt("198.51.100.122", user);
        Task<HttpResponseMessage> WithCookie(string value) => fx.Api.SendAsync(HttpMethod.Post, "/auth/login",
            body: new { tenant = user.Tenant, username = user.Username, password = user.Password },
            configure: r =>
            {
                r.Headers.Add("X-Forwarded-For", "198.51.100.122");
                r.Headers.Add("Cookie", "__Host-device=" + value);
            });
        // That address is locked for new devices; the browser that signed in before sends its cookie and gets in.
        await Problem.AssertAsync(await fx.Api.Attempt("198.51.100.122", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        var renewed = (await ApiClient.ReadLoginAsync(await WithCookie(token))).Tokens.DeviceToken!;
        Assert.NotEqual(token, renewed);
        Assert.Equal(HttpStatusCode.OK, (await WithCookie(renewed)).StatusCode);
        // The body's token wins over the cookie: a bad one in the body is a new device's login.
        var both = await fx.Api.SendAsync(HttpMethod.Post, "/auth/login",
            body: new { tenant = user.Tenant, username = user.Username, password = user.Password, device_token = "forged" },
            configure: r =>
            {
                r.Headers.Add("X-Forwarded-For", "198.51.100.122");
                r.Headers.Add("Cookie", "__Host-device=" + renewed);
            });
        await Problem.AssertAsync(both, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
    }

    [Fact]
    public async Task A_device_token_is_no_credential()
    {
        var user = await fx.NewUserAsync();
        var token = await fx.Api.DeviceTokenOfAsync("198.51.100.123", user);
        // Nothing but the login reads it: as a bearer or a cookie it authenticates nothing.
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.Add("Authorization", "Bearer " + token)),
            HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.Add("Cookie", "__Host-device=" + token)),
            HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        // With a wrong password it is refused like any login.
        await Problem.AssertAsync(await fx.Api.Attempt("198.51.100.123", user, deviceToken: token), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
    }
}
