using System.Net;
using System.Net.Http.Json;
using Npgsql;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Faults;

/// <summary>
/// The app reaches PostgreSQL through a <see cref="TcpProxy"/> of its own, so a test can take PostgreSQL away from
/// this app (refused and reset connections, as when the server stops) while the rest of the suite keeps it. Login
/// limits are tight, so a login that failed for the outage and was counted would show as a 429 afterwards.
/// </summary>
public sealed class PostgresOutageFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public TcpProxy Proxy { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        var direct = new NpgsqlConnectionStringBuilder(settings["ConnectionStrings:Postgres"]);
        settings["ConnectionStrings:Postgres"] = new NpgsqlConnectionStringBuilder(direct.ConnectionString)
        {
            Host = "127.0.0.1",
            Port = Proxy.Port,
        }.ConnectionString;
        settings["LoginLimits:MaxFailuresPerAccountAndAddress"] = "3";
        settings["LoginLimits:MaxFailuresPerAccount"] = "3";
        settings["LoginLimits:MaxFailuresPerIp"] = "4";
    }

    public override async Task InitializeAsync()
    {
        var direct = new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres);
        Proxy = new TcpProxy(direct.Host ?? "127.0.0.1", direct.Port);
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        Proxy.Restore();
        await base.DisposeAsync();
        await Proxy.DisposeAsync();
    }
}

public sealed class PostgresOutageTests_Opaque(PostgresOutageFixture<Opaque> fx, ITestOutputHelper o) : PostgresOutageTests<Opaque>(fx, o), IClassFixture<PostgresOutageFixture<Opaque>>;
public sealed class PostgresOutageTests_Blacklist(PostgresOutageFixture<Blacklist> fx, ITestOutputHelper o) : PostgresOutageTests<Blacklist>(fx, o), IClassFixture<PostgresOutageFixture<Blacklist>>;
public sealed class PostgresOutageTests_SessionCache(PostgresOutageFixture<SessionCache> fx, ITestOutputHelper o) : PostgresOutageTests<SessionCache>(fx, o), IClassFixture<PostgresOutageFixture<SessionCache>>;

/// <summary>PostgreSQL down under an authenticated client: the hot path keeps going, the rest answers 503, nothing counts.</summary>
public abstract class PostgresOutageTests<TMode> where TMode : IMode
{
    private const string Address = "198.51.100.77";
    private readonly PostgresOutageFixture<TMode> _fx;

    protected PostgresOutageTests(PostgresOutageFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    private ApiClient Api => _fx.Api;

    private Task<HttpResponseMessage> LoginFrom(string tenant, string username, string password) =>
        Api.LoginFromAsync(Address, new { tenant, username, password });

    private static async Task AssertOutageAsync(HttpResponseMessage response, string what)
    {
        if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
            Assert.Fail($"{what} during the outage: expected 503, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        await Problem.AssertAsync(response, HttpStatusCode.ServiceUnavailable, Problems.ServiceUnavailable);
        Assert.True(response.Headers.RetryAfter is not null, $"{what}: 503 without Retry-After");
    }

    [Fact]
    public async Task Authenticated_traffic_flows_while_PostgreSQL_is_down_everything_else_answers_503_and_nothing_counts_against_login_limits()
    {
        var user = await _fx.NewUserAsync();
        var alice = await _fx.AliceAsync();
        var session = await Api.LoginAsync(user);
        var spare = await Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/profile", session)).StatusCode);
        Assert.True(_fx.Proxy.Relayed > 0, "the app does not reach PostgreSQL through the proxy");

        _fx.Proxy.Cut();
        try
        {
            // Longer than the sliding-write interval (1 s here) and several flushes: the slides fall due and fail.
            var statuses = new List<HttpStatusCode>();
            var until = DateTimeOffset.UtcNow.AddSeconds(3.5);
            while (DateTimeOffset.UtcNow < until)
            {
                statuses.Add((await Api.GetAsync("/api/profile", session)).StatusCode);
                statuses.Add((await Api.GetAsync("/auth/me", alice)).StatusCode);
                await Task.Delay(100);
            }
            Assert.True(statuses.All(s => s == HttpStatusCode.OK),
                $"authenticated requests during the outage: {string.Join(", ", statuses.GroupBy(s => (int)s).Select(g => $"{g.Count()}×{g.Key}"))}");

            // More attempts than every limit (3 per account and address, 3 per account, 4 per address): right
            // passwords, wrong passwords, and the platform admin's. None may count.
            for (var i = 0; i < 5; i++)
            {
                await AssertOutageAsync(await LoginFrom(user.Tenant, user.Username, user.Password), "login (right password)");
                await AssertOutageAsync(await LoginFrom(user.Tenant, user.Username, "wrong-password-123"), "login (wrong password)");
                await AssertOutageAsync(await LoginFrom("system", "admin", AppFixture<TMode>.AdminPassword), "platform admin login");
            }
            if (spare.Refresh is not null)
                await AssertOutageAsync(await Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = spare.Refresh }), "refresh");
            await AssertOutageAsync(await Api.SendAsync(HttpMethod.Post, "/auth/logout", spare), "logout");
            await AssertOutageAsync(await Api.GetAsync("/auth/sessions", session), "GET /auth/sessions");
            await AssertOutageAsync(await Api.GetAsync("/admin/users", alice), "GET /admin/users");
            await AssertOutageAsync(await Api.SendAsync(HttpMethod.Post, "/admin/users", alice,
                new { username = "u" + Guid.NewGuid().ToString("N")[..12], password = "pw-" + Guid.NewGuid().ToString("N"), roles = Array.Empty<string>() }), "POST /admin/users");
            await AssertOutageAsync(await Api.Management.GetAsync("/health/ready"), "GET /health/ready");

            // Still flowing after all that.
            Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/profile", session)).StatusCode);
        }
        finally
        {
            _fx.Proxy.Restore();
        }

        // Recovers by itself: no restart, no call that wakes it up.
        await Eventually.StatusAsync(() => Api.GetAsync("/admin/users", alice), HttpStatusCode.OK, TimeSpan.FromSeconds(15));
        // The budget of wrong passwords is whole (3 per account and address): two of them are still plain 401s ...
        for (var i = 0; i < 2; i++)
            await Problem.AssertAsync(await LoginFrom(user.Tenant, user.Username, "wrong-password-123"), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        // ... and the owner and the platform admin, from the same address, log in at once.
        Assert.Equal(HttpStatusCode.OK, (await LoginFrom(user.Tenant, user.Username, user.Password)).StatusCode);
        var platform = await LoginFrom("system", "admin", AppFixture<TMode>.AdminPassword);
        Assert.True(platform.StatusCode == HttpStatusCode.OK, $"platform admin after the outage: {(int)platform.StatusCode} {await platform.Content.ReadAsStringAsync()}");

        // What was refused during the outage works now, and was not half-done.
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/profile", spare)).StatusCode);
        if (spare.Refresh is not null)
            spare = await Api.RefreshAsync(spare);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, "/auth/logout", spare)).StatusCode);
        await Eventually.StatusAsync(() => Api.GetAsync("/api/profile", spare), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(5));
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/sessions", session)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/api/profile", session)).StatusCode);

        // The end of an outage is logged once PostgreSQL has answered for a second without a failure: wait for it.
        var backBy = DateTimeOffset.UtcNow.AddSeconds(5);
        while (!_fx.Logs.Lines.Any(l => l.Contains("Postgres is back", StringComparison.Ordinal)) && DateTimeOffset.UtcNow < backBy)
            await Task.Delay(100);
        var lines = _fx.Logs.Lines;
        Assert.DoesNotContain(lines, l => l.Contains("responded 500", StringComparison.Ordinal));
        if (!TMode.SelfContainedAccessToken) // a self-contained token slides only on refresh
            Assert.Contains(lines, l => l.Contains("Sliding writes failing", StringComparison.Ordinal));
        // The outage is logged when it starts and when it ends, not once per refused request ...
        Assert.Equal(1, lines.Count(l => l.Contains("Postgres is unavailable", StringComparison.Ordinal)));
        Assert.Equal(1, lines.Count(l => l.Contains("Postgres is back", StringComparison.Ordinal)));

        // ... and so is the next one.
        _fx.Proxy.Cut();
        try
        {
            await AssertOutageAsync(await Api.GetAsync("/admin/users", alice), "GET /admin/users (second outage)");
        }
        finally
        {
            _fx.Proxy.Restore();
        }
        await Eventually.StatusAsync(() => Api.GetAsync("/admin/users", alice), HttpStatusCode.OK, TimeSpan.FromSeconds(15));
        var deadline = DateTimeOffset.UtcNow.AddSeconds(5);
        while (_fx.Logs.Lines.Count(l => l.Contains("Postgres is back", StringComparison.Ordinal)) < 2 && DateTimeOffset.UtcNow < deadline)
            await Task.Delay(100);
        lines = _fx.Logs.Lines;
        Assert.Equal(2, lines.Count(l => l.Contains("Postgres is unavailable", StringComparison.Ordinal)));
        Assert.Equal(2, lines.Count(l => l.Contains("Postgres is back", StringComparison.Ordinal)));
    }
}
