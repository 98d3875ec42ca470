using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

public sealed class AccountLimitFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s)
    {
        s["LoginLimits:MaxFailuresPerAccountAndAddress"] = "3";
        s["LoginLimits:MaxFailuresPerAccount"] = "8";
        s["LoginLimits:MaxPasswordChangeFailures"] = "3";
    }
}

public sealed class IpLimitFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s) => s["LoginLimits:MaxFailuresPerIp"] = "4";
}

public sealed class AccountRateLimitTests_Opaque(AccountLimitFixture<Opaque> fx) : AccountRateLimitTests<Opaque>(fx), IClassFixture<AccountLimitFixture<Opaque>>;
public sealed class AccountRateLimitTests_Blacklist(AccountLimitFixture<Blacklist> fx) : AccountRateLimitTests<Blacklist>(fx), IClassFixture<AccountLimitFixture<Blacklist>>;
public sealed class AccountRateLimitTests_SessionCache(AccountLimitFixture<SessionCache> fx) : AccountRateLimitTests<SessionCache>(fx), IClassFixture<AccountLimitFixture<SessionCache>>;

/// <summary>Failed-login limits that stop guessing without letting a stranger lock the owner out.</summary>
public abstract class AccountRateLimitTests<TMode>(AccountLimitFixture<TMode> fx) where TMode : IMode
{
    private Task<HttpResponseMessage> Attempt(string from, TestUser user, string? password = null) =>
        fx.Api.LoginFromAsync(from, new { tenant = user.Tenant, username = user.Username, password = password ?? "wrong-password-123" });

    [Fact]
    public async Task Wrong_passwords_lock_the_account_only_for_the_address_they_came_from()
    {
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 3; i++) await Problem.AssertAsync(await Attempt("198.51.100.10", user), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        // From that address even the right password is turned away, without being checked.
        var limited = await Attempt("198.51.100.10", user, user.Password);
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single()) > 0);
        // The owner, from anywhere else, is not locked out.
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.11", user, user.Password)).StatusCode);
        // The lockout was audited once, and the admin sees it.
        var alice = await fx.AliceAsync();
        var audit = await fx.Api.GetJsonAsync($"/admin/audit?user_id={user.Id}&type=login.locked", alice);
        Assert.Equal(1, audit.GetProperty("total").GetInt64());
        Assert.Equal("account-address", audit.GetProperty("items")[0].GetProperty("detail").GetProperty("scope").GetString());
        var view = await fx.Api.GetJsonAsync($"/admin/users/{user.Id}", alice);
        Assert.Equal(1, view.GetProperty("login_lock").GetProperty("locked_addresses").GetInt32());
        Assert.False(view.GetProperty("login_lock").GetProperty("account_locked").GetBoolean());
    }

    [Fact]
    public async Task An_ipv6_client_is_counted_per_64_so_new_addresses_in_its_prefix_do_not_help()
    {
        var user = await fx.NewUserAsync();
        for (var i = 1; i <= 3; i++) await Attempt($"2001:db8:1:2::{i}", user);
        await Problem.AssertAsync(await Attempt("2001:db8:1:2::ffff", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.Equal(HttpStatusCode.OK, (await Attempt("2001:db8:1:3::1", user, user.Password)).StatusCode);
    }

    [Fact]
    public async Task The_account_wide_ceiling_stops_guessing_from_many_addresses_until_an_admin_unlocks()
    {
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 8; i++) await Problem.AssertAsync(await Attempt($"203.0.113.{i + 1}", user), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await Attempt("203.0.113.200", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        var alice = await fx.AliceAsync();
        Assert.True((await fx.Api.GetJsonAsync($"/admin/users/{user.Id}", alice)).GetProperty("login_lock").GetProperty("account_locked").GetBoolean());

        var plain = await fx.Api.LoginAsync(await fx.NewUserAsync(["user"]));
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/unlock", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{Guid.NewGuid()}/unlock", alice), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/unlock", alice)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Attempt("203.0.113.200", user, user.Password)).StatusCode);
        Assert.Equal(0, (await fx.Api.GetJsonAsync($"/admin/users/{user.Id}", alice)).GetProperty("login_lock").GetProperty("failures").GetInt64());
        Assert.Equal(1, (await fx.Api.GetJsonAsync($"/admin/audit?user_id={user.Id}&type=user.unlocked", alice)).GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task Unlock_also_lifts_an_address_lockout()
    {
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 4; i++) await Attempt("198.51.100.20", user);
        await Problem.AssertAsync(await Attempt("198.51.100.20", user, user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/unlock", await fx.AliceAsync())).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Attempt("198.51.100.20", user, user.Password)).StatusCode);
    }

    [Fact]
    public async Task Parallel_guesses_cannot_slip_past_the_limit()
    {
        var user = await fx.NewUserAsync();
        var attempts = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Attempt("198.51.100.30", user)));
        Assert.Equal(3, attempts.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
        Assert.Equal(7, attempts.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Unknown_usernames_are_limited_exactly_like_known_ones()
    {
        var ghost = new TestUser(Guid.Empty, "acme", "ghost" + Guid.NewGuid().ToString("N")[..8], "irrelevant-password");
        for (var i = 0; i < 3; i++)
            await Problem.AssertAsync(await Attempt("198.51.100.40", ghost), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await Attempt("198.51.100.40", ghost), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
    }

    [Fact]
    public async Task Wrong_current_passwords_on_password_change_are_limited()
    {
        var user = await fx.NewUserAsync();
        var login = await fx.Api.LoginAsync(user);
        for (var i = 0; i < 3; i++)
            await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, "/auth/password", login, new { current_password = "wrong-password-123", new_password = "another-password-456" }),
                HttpStatusCode.Forbidden, Problems.InvalidCredentials);
        var limited = await fx.Api.SendAsync(HttpMethod.Post, "/auth/password", login, new { current_password = user.Password, new_password = "another-password-456" });
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.True(limited.Headers.Contains("Retry-After"));
        // Nothing changed: the old password still logs in.
        await fx.Api.LoginAsync(user);
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
