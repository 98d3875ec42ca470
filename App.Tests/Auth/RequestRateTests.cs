using System.Diagnostics;
using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

/// <summary>Tight request limits that refuse at once (no queue), so each limit shows in a few requests.</summary>
public sealed class RequestRateFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s)
    {
        s["RateLimits:PerSessionPerSecond"] = "1";
        s["RateLimits:PerSessionBurst"] = "6";
        s["RateLimits:StateChangesPerSessionPerSecond"] = "1";
        s["RateLimits:StateChangesPerSessionBurst"] = "2";
        s["RateLimits:PerAddressPerSecond"] = "1";
        s["RateLimits:PerAddressBurst"] = "12";
        s["RateLimits:QueueLimit"] = "0";
    }
}

/// <summary>The same with a queue: a client over its rate waits its turn instead of being refused.</summary>
public sealed class QueuedRequestRateFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s)
    {
        s["RateLimits:PerSessionPerSecond"] = "2";
        s["RateLimits:PerSessionBurst"] = "2";
        s["RateLimits:QueueLimit"] = "8";
    }
}

public sealed class RequestRateTests_Opaque(RequestRateFixture<Opaque> fx) : RequestRateTests<Opaque>(fx), IClassFixture<RequestRateFixture<Opaque>>;
public sealed class RequestRateTests_Blacklist(RequestRateFixture<Blacklist> fx) : RequestRateTests<Blacklist>(fx), IClassFixture<RequestRateFixture<Blacklist>>;
public sealed class RequestRateTests_SessionCache(RequestRateFixture<SessionCache> fx) : RequestRateTests<SessionCache>(fx), IClassFixture<RequestRateFixture<SessionCache>>;

/// <summary>No single client takes the whole machine: requests are limited per session, per session for state changes, and per address.</summary>
public abstract class RequestRateTests<TMode>(RequestRateFixture<TMode> fx) where TMode : IMode
{
    private static int _address;

    // Every test, and every session in it, gets its own client address, so only the limit under test can bind.
    private static string NewAddress() => $"198.18.{Interlocked.Increment(ref _address) / 250}.{_address % 250 + 1}";

    // Signs bob in: creating users through the admin API would itself run into the limits under test.
    private async Task<(Login Session, string From)> SignInAsync()
    {
        var from = NewAddress();
        var bob = new TestUser(Guid.Empty, "acme", "bob", AppFixture<TMode>.DemoPassword);
        return (await ApiClient.ReadLoginAsync(await fx.Api.Attempt(from, bob, bob.Password)), from);
    }

    private Task<HttpResponseMessage> Send(HttpMethod method, string url, Login? session, string from) =>
        fx.Api.SendAsync(method, url, session, configure: r => r.Headers.Add("X-Forwarded-For", from));

    private static async Task<HttpResponseMessage> FirstRefusalAsync(Func<Task<HttpResponseMessage>> send, int within)
    {
        for (var i = 0; i < within; i++)
        {
            var response = await send();
            if (response.StatusCode == HttpStatusCode.TooManyRequests) return response;
            Assert.True(response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotFound, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        Assert.Fail($"no 429 within {within} requests");
        return null!;
    }

    [Fact]
    public async Task A_session_over_its_rate_gets_429_too_many_requests_and_other_sessions_do_not_notice()
    {
        var (flooder, from) = await SignInAsync();
        var (other, otherFrom) = await SignInAsync();
        var refused = await FirstRefusalAsync(() => Send(HttpMethod.Get, "/api/profile", flooder, from), 10);
        await Problem.AssertAsync(refused, HttpStatusCode.TooManyRequests, Problems.TooManyRequests);
        Assert.True(int.Parse(refused.Headers.GetValues("Retry-After").Single()) >= 1);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/api/profile", other, otherFrom)).StatusCode);
    }

    [Fact]
    public async Task State_changes_have_a_lower_rate_of_their_own()
    {
        var (session, from) = await SignInAsync();
        // DELETE of a session that is not the caller's: 404, and it changes nothing, but it is a state change.
        var refused = await FirstRefusalAsync(() => Send(HttpMethod.Delete, $"/auth/sessions/{Guid.NewGuid()}", session, from), 4);
        await Problem.AssertAsync(refused, HttpStatusCode.TooManyRequests, Problems.TooManyRequests);
        // Reads still go through: they have their own, higher rate.
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/api/profile", session, from)).StatusCode);
    }

    [Fact]
    public async Task An_address_over_its_rate_is_refused_signed_in_or_not()
    {
        var from = NewAddress();
        var refused = await FirstRefusalAsync(() => Send(HttpMethod.Get, "/health/live", null, from), 16);
        await Problem.AssertAsync(refused, HttpStatusCode.TooManyRequests, Problems.TooManyRequests);
        Assert.Equal(HttpStatusCode.OK, (await Send(HttpMethod.Get, "/health/live", null, NewAddress())).StatusCode);
    }
}

public sealed class QueuedRequestRateTests_Opaque(QueuedRequestRateFixture<Opaque> fx) : QueuedRequestRateTests<Opaque>(fx), IClassFixture<QueuedRequestRateFixture<Opaque>>;
public sealed class QueuedRequestRateTests_Blacklist(QueuedRequestRateFixture<Blacklist> fx) : QueuedRequestRateTests<Blacklist>(fx), IClassFixture<QueuedRequestRateFixture<Blacklist>>;
public sealed class QueuedRequestRateTests_SessionCache(QueuedRequestRateFixture<SessionCache> fx) : QueuedRequestRateTests<SessionCache>(fx), IClassFixture<QueuedRequestRateFixture<SessionCache>>;

public abstract class QueuedRequestRateTests<TMode>(QueuedRequestRateFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_session_over_its_rate_waits_its_turn_instead_of_being_refused()
    {
        var session = await fx.Api.LoginAsync(await fx.NewUserAsync());
        var clock = Stopwatch.StartNew();
        var answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => fx.Api.GetAsync("/api/profile", session)));
        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        // Two at once, then two per second: the last two waited for the second refill.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1), $"six requests took only {clock.Elapsed}");
    }
}
