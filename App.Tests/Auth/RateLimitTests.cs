using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

public sealed class AccountLimitFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s) => s["LoginLimits:MaxFailuresPerAccount"] = "3";
}

public sealed class IpLimitFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s) => s["LoginLimits:MaxFailuresPerIp"] = "4";
}

public sealed class AccountRateLimitTests_Opaque(AccountLimitFixture<Opaque> fx) : AccountRateLimitTests<Opaque>(fx), IClassFixture<AccountLimitFixture<Opaque>>;
public sealed class AccountRateLimitTests_Blacklist(AccountLimitFixture<Blacklist> fx) : AccountRateLimitTests<Blacklist>(fx), IClassFixture<AccountLimitFixture<Blacklist>>;
public sealed class AccountRateLimitTests_SessionCache(AccountLimitFixture<SessionCache> fx) : AccountRateLimitTests<SessionCache>(fx), IClassFixture<AccountLimitFixture<SessionCache>>;

public abstract class AccountRateLimitTests<TMode>(AccountLimitFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task Failed_logins_are_limited_per_account_with_429_and_retry_after()
    {
        var user = await fx.NewUserAsync();
        var bystander = await fx.NewUserAsync();
        for (var i = 0; i < 3; i++)
        {
            var failed = await fx.Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = "wrong-password-123" });
            await Problem.AssertAsync(failed, HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        }
        // Now even the right password is turned away, without being checked.
        var limited = await fx.Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = user.Password });
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single()) > 0);
        // The same limit applies to a username that does not exist (no hint of existence), and others are unaffected.
        await fx.Api.LoginAsync(bystander);
    }

    [Fact]
    public async Task Parallel_guesses_cannot_slip_past_the_account_limit()
    {
        var user = await fx.NewUserAsync();
        var attempts = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ =>
            fx.Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = "wrong-password-123" })));
        Assert.Equal(3, attempts.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
        Assert.Equal(7, attempts.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Unknown_usernames_are_limited_exactly_like_known_ones()
    {
        var ghost = "ghost" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 3; i++)
            await Problem.AssertAsync(await fx.Api.LoginRawAsync(new { tenant = "acme", username = ghost, password = "wrong-password-123" }),
                HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await fx.Api.LoginRawAsync(new { tenant = "acme", username = ghost, password = "wrong-password-123" }),
            HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
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
