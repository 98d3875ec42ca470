using System.Diagnostics;
using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

public sealed class AccountLimitFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public static readonly TimeSpan Delay = TimeSpan.FromMilliseconds(400);

    protected override void Configure(IDictionary<string, string?> s)
    {
        s["LoginLimits:MaxFailuresPerAccountAndAddress"] = "5";
        s["LoginLimits:MaxFailuresPerAccount"] = "8";
        s["LoginLimits:NewDeviceDelay"] = Delay.ToString();
        s["LoginLimits:NewDeviceMaxDelay"] = (2 * Delay).ToString();
        s["LoginLimits:MaxFailuresPerDevice"] = "4";
        s["LoginLimits:MaxPasswordChangeFailures"] = "3";
        s["LoginLimits:MaxPasswordChangeFailuresPerAccount"] = "5";
    }
}

public sealed class IpLimitFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s)
    {
        s["LoginLimits:MaxFailuresPerIp"] = "4";
        s["LoginLimits:MaxFailuresPerIpv6Slash56"] = "6";
        s["LoginLimits:MaxFailuresPerIpv6Slash48"] = "9";
    }
}

public static class LoginAttempts
{
    public const string WrongPassword = "wrong-password-123";

    /// <summary>A login from <paramref name="from"/>, with a device token when given.</summary>
    public static Task<HttpResponseMessage> Attempt(this ApiClient api, string from, TestUser user, string? password = null, string? deviceToken = null) =>
        api.LoginFromAsync(from, deviceToken is null
            ? new { tenant = user.Tenant, username = user.Username, password = password ?? WrongPassword }
            : new { tenant = user.Tenant, username = user.Username, password = password ?? WrongPassword, device_token = deviceToken });

    /// <summary>Logs in with the right password and returns the device token the login issued.</summary>
    public static async Task<string> DeviceTokenOfAsync(this ApiClient api, string from, TestUser user)
    {
        var login = await ApiClient.ReadLoginAsync(await api.Attempt(from, user, user.Password));
        return login.Tokens.DeviceToken!;
    }
}

public sealed class AccountRateLimitTests_Opaque(AccountLimitFixture<Opaque> fx) : AccountRateLimitTests<Opaque>(fx), IClassFixture<AccountLimitFixture<Opaque>>;
public sealed class AccountRateLimitTests_Blacklist(AccountLimitFixture<Blacklist> fx) : AccountRateLimitTests<Blacklist>(fx), IClassFixture<AccountLimitFixture<Blacklist>>;
public sealed class AccountRateLimitTests_SessionCache(AccountLimitFixture<SessionCache> fx) : AccountRateLimitTests<SessionCache>(fx), IClassFixture<AccountLimitFixture<SessionCache>>;

/// <summary>Failed-login limits that stop guessing without letting a stranger lock the owner out (OWASP device cookies).</summary>
public abstract class AccountRateLimitTests<TMode>(AccountLimitFixture<TMode> fx) where TMode : IMode
{
    private Task<HttpResponseMessage> Attempt(string from, TestUser user, string? password = null, string? device = null) =>
        fx.Api.Attempt(from, user, password, device);

    [Fact]
    public async Task Wrong_passwords_lock_the_account_only_for_the_address_they_came_from()
    {
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 5; i++) await Problem.AssertAsync(await Attempt("198.51.100.10", user), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        // From that address even the right password is turned away, without being checked.
        var limited = await Attempt("198.51.100.10", user, user.Password);
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single()) > 0);
        // The owner, from anywhere else, is not locked out.
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.11", user, user.Password)).StatusCode);
        // The lockout was audited once, and the admin sees it.
        var alice = await fx.AliceAsync();
        var audit = await fx.Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&type=login.locked", alice);
        Assert.Equal("account-address", Assert.Single(audit.Items).DetailAs<LockedDetail>().Scope);
        var view = (await fx.Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", alice)).LoginLock;
        Assert.Equal(1, view.LockedAddresses);
        Assert.False(view.AccountLocked);
    }

    [Fact]
    public async Task The_right_password_clears_that_addresses_failures_on_the_account_only()
    {
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 4; i++) await Attempt("198.51.100.12", user);
        for (var i = 0; i < 4; i++) await Attempt("198.51.100.13", user);
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.12", user, user.Password)).StatusCode);
        // That address starts again from nothing; the other one still has its four.
        for (var i = 0; i < 5; i++) await Problem.AssertAsync(await Attempt("198.51.100.12", user), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Attempt("198.51.100.13", user);
        await Problem.AssertAsync(await Attempt("198.51.100.13", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
    }

    [Fact]
    public async Task An_ipv6_client_is_counted_per_64_so_new_addresses_in_its_prefix_do_not_help()
    {
        var user = await fx.NewUserAsync();
        for (var i = 1; i <= 5; i++) await Attempt($"2001:db8:1:2::{i}", user);
        await Problem.AssertAsync(await Attempt("2001:db8:1:2::ffff", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.Equal(HttpStatusCode.OK, (await Attempt("2001:db8:1:3::1", user, user.Password)).StatusCode);
    }

    [Fact]
    public async Task After_25_addresses_failed_5_times_each_the_owner_signs_in_on_a_known_device_and_a_new_device_is_only_slowed()
    {
        var user = await fx.NewUserAsync();
        var device = await fx.Api.DeviceTokenOfAsync("192.0.2.1", user);

        // 25 addresses, 5 wrong passwords each (125, far past the account-wide threshold of 8), then each is refused.
        await Task.WhenAll(Enumerable.Range(1, 25).Select(async a =>
        {
            for (var i = 0; i < 5; i++) await Problem.AssertAsync(await Attempt($"203.0.113.{a}", user), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        }));
        await Problem.AssertAsync(await Attempt("203.0.113.7", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        var alice = await fx.AliceAsync();
        var view = (await fx.Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", alice)).LoginLock;
        Assert.True(view.AccountLocked);
        Assert.Equal(125, view.Failures);

        // The owner's device gets in from anywhere, even from an address the flood locked, and keeps a renewed token.
        var known = await ApiClient.ReadLoginAsync(await Attempt("203.0.113.7", user, user.Password, device));
        Assert.False(string.IsNullOrEmpty(known.Tokens.DeviceToken));
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.99", user, user.Password, device)).StatusCode);

        // A new device from a clean address is slowed down (at most NewDeviceMaxDelay), not locked for the window.
        var clock = Stopwatch.StartNew();
        var fresh = await Attempt("198.51.100.100", user, user.Password);
        Assert.Equal(HttpStatusCode.OK, fresh.StatusCode);
        Assert.True(clock.Elapsed >= AccountLimitFixture<TMode>.Delay - TimeSpan.FromMilliseconds(50), $"a new device waited only {clock.Elapsed}");
        Assert.False(fresh.Headers.Contains("Retry-After"));
        // A wrong password from a new device waits as long (the delay comes before the check, so it tells nothing).
        clock.Restart();
        await Problem.AssertAsync(await Attempt("198.51.100.101", user), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        Assert.True(clock.Elapsed >= AccountLimitFixture<TMode>.Delay - TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public async Task A_known_device_is_refused_only_for_its_own_failures()
    {
        var user = await fx.NewUserAsync();
        var device = await fx.Api.DeviceTokenOfAsync("198.51.100.60", user);
        for (var i = 0; i < 4; i++) await Problem.AssertAsync(await Attempt("198.51.100.60", user, device: device), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        var limited = await Attempt("198.51.100.60", user, user.Password, device);
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.True(limited.Headers.Contains("Retry-After"));
        // The device's failures counted against no address and no other device: from the same address, a new device
        // (and another known device) still gets in.
        var other = await fx.Api.DeviceTokenOfAsync("198.51.100.60", user);
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.60", user, user.Password, other)).StatusCode);
        var view = (await fx.Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", await fx.AliceAsync())).LoginLock;
        Assert.Equal(0, view.Failures);
        // An unlock lifts the device's lockout too.
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/unlock", await fx.AliceAsync())).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.60", user, user.Password, device)).StatusCode);
    }

    [Fact]
    public async Task A_device_token_of_another_account_forged_or_tampered_gives_nothing()
    {
        var owner = await fx.NewUserAsync();
        var victim = await fx.NewUserAsync();
        var ownersDevice = await fx.Api.DeviceTokenOfAsync("198.51.100.70", owner);
        for (var i = 0; i < 5; i++) await Attempt("198.51.100.71", victim);
        foreach (var token in new[] { ownersDevice, ownersDevice[..^4] + "AAAA", "not-a-device-token", new string('A', 5000) })
            await Problem.AssertAsync(await Attempt("198.51.100.71", victim, victim.Password, token), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        // The owner's token still works for the owner.
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.71", owner, owner.Password, ownersDevice)).StatusCode);
    }

    [Fact]
    public async Task Unlock_clears_the_account_wide_count_and_an_address_lockout()
    {
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 6; i++) await Attempt("198.51.100.20", user);
        for (var i = 0; i < 4; i++) await Attempt($"198.51.100.{21 + i}", user);
        await Problem.AssertAsync(await Attempt("198.51.100.20", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        var alice = await fx.AliceAsync();
        Assert.True((await fx.Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", alice)).LoginLock.AccountLocked);

        var plain = await fx.Api.LoginAsync(await fx.NewUserAsync(["user"]));
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/unlock", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{Guid.NewGuid()}/unlock", alice), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/unlock", alice)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.20", user, user.Password)).StatusCode);
        var view = (await fx.Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", alice)).LoginLock;
        Assert.Equal((0L, false), (view.Failures, view.AccountLocked));
        Assert.Equal(1, (await fx.Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&type=user.unlocked", alice)).Total);
    }

    [Fact]
    public async Task Parallel_guesses_cannot_slip_past_the_limit()
    {
        var user = await fx.NewUserAsync();
        var attempts = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Attempt("198.51.100.30", user)));
        Assert.Equal(5, attempts.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
        Assert.Equal(7, attempts.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Unknown_usernames_are_limited_exactly_like_known_ones()
    {
        var ghost = new TestUser(Guid.Empty, "acme", "ghost" + Guid.NewGuid().ToString("N")[..8], "irrelevant-password");
        for (var i = 0; i < 5; i++)
            await Problem.AssertAsync(await Attempt("198.51.100.40", ghost), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await Attempt("198.51.100.40", ghost), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
    }
}

public sealed class IpRateLimitTests_Opaque(IpLimitFixture<Opaque> fx) : IpRateLimitTests<Opaque>(fx), IClassFixture<IpLimitFixture<Opaque>>;
public sealed class IpRateLimitTests_Blacklist(IpLimitFixture<Blacklist> fx) : IpRateLimitTests<Blacklist>(fx), IClassFixture<IpLimitFixture<Blacklist>>;
public sealed class IpRateLimitTests_SessionCache(IpLimitFixture<SessionCache> fx) : IpRateLimitTests<SessionCache>(fx), IClassFixture<IpLimitFixture<SessionCache>>;

public abstract class IpRateLimitTests<TMode>(IpLimitFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task Failed_logins_are_limited_per_client_ip_across_accounts()
    {
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 4; i++)
            await fx.Api.LoginRawAsync(new { tenant = "acme", username = "spray" + i, password = "wrong-password-123" });
        var limited = await fx.Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password });
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.True(limited.Headers.Contains("Retry-After"));
    }

    [Fact]
    public async Task Ipv6_failures_add_up_per_56_and_per_48_but_a_known_device_still_gets_in()
    {
        var user = await fx.NewUserAsync();
        var device = await fx.Api.DeviceTokenOfAsync("2001:db8:ffff::1", user);
        var net = "2001:db8:" + Random.Shared.Next(0x1000, 0xffff).ToString("x");
        Task<HttpResponseMessage> Spray(string address, int i) =>
            fx.Api.LoginFromAsync(address, new { tenant = "acme", username = "spray6-" + i, password = "wrong-password-123" });

        // Six /64s of one /56 (one failure each: no /64 reaches its limit of 4) fill the /56's limit of 6.
        // (The fourth group's high byte picks the /56 inside the /48, its low byte the /64 inside the /56.)
        for (var i = 0; i < 6; i++) await Problem.AssertAsync(await Spray($"{net}:a1{i:x2}::1", i), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await fx.Api.Attempt($"{net}:a1ff::1", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        // Another /56 of the same /48 has room until the /48's limit of 9.
        for (var i = 0; i < 3; i++) await Problem.AssertAsync(await Spray($"{net}:b1{i:x2}::1", 10 + i), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await fx.Api.Attempt($"{net}:c100::1", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        // Another /48 is untouched, and the owner's device gets in from inside the refused networks.
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.Attempt("2001:db8:ffff:1::1", user, user.Password)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.Attempt($"{net}:a1ff::2", user, user.Password, device)).StatusCode);
    }
}

public sealed class RequestLimitFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s) => s["LoginLimits:RequestsPerMinutePerIp"] = "5";
}

public sealed class RequestRateLimitTests_Opaque(RequestLimitFixture<Opaque> fx) : RequestRateLimitTests<Opaque>(fx), IClassFixture<RequestLimitFixture<Opaque>>;
public sealed class RequestRateLimitTests_Blacklist(RequestLimitFixture<Blacklist> fx) : RequestRateLimitTests<Blacklist>(fx), IClassFixture<RequestLimitFixture<Blacklist>>;
public sealed class RequestRateLimitTests_SessionCache(RequestLimitFixture<SessionCache> fx) : RequestRateLimitTests<SessionCache>(fx), IClassFixture<RequestLimitFixture<SessionCache>>;

public abstract class RequestRateLimitTests<TMode>(RequestLimitFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task The_built_in_limiter_caps_auth_requests_per_ip_with_429_and_retry_after()
    {
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 8; i++)
        {
            var response = await fx.Api.LoginRawAsync(new { tenant = "acme" });
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) limited ??= response;
        }
        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.BadRequest));
        Assert.NotNull(limited);
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.True(limited.Headers.Contains("Retry-After"));
        // Only the anonymous /auth endpoints are limited this way: polling /auth/me is not, and is not counted.
        for (var i = 0; i < 8; i++) await Problem.AssertAsync(await fx.Api.GetAsync("/auth/me"), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/health/live")).StatusCode);
    }
}
