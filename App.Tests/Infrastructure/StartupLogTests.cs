using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Hosting;
using SessionGate.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Infrastructure;

public sealed class RefusedRequestLogTests_Opaque(AppFixture<Opaque> fx, ITestOutputHelper o) : RefusedRequestLogTests<Opaque>(fx, o), IClassFixture<AppFixture<Opaque>>;
public sealed class RefusedRequestLogTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper o) : RefusedRequestLogTests<Blacklist>(fx, o), IClassFixture<AppFixture<Blacklist>>;
public sealed class RefusedRequestLogTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper o) : RefusedRequestLogTests<SessionCache>(fx, o), IClassFixture<AppFixture<SessionCache>>;

/// <summary>
/// A refused request writes one log line, which says why (the shipped logging configuration: the framework's own
/// authentication lines are turned down, and the scheme's refusal rides on the request's line).
/// </summary>
public abstract class RefusedRequestLogTests<TMode> where TMode : IMode
{
    private readonly AppFixture<TMode> _fx;

    protected RefusedRequestLogTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    // Every line about the request: those whose message or properties (the request's scope) name its unique path.
    private async Task<List<string>> LinesOfAsync(Func<string, Task<HttpResponseMessage>> send, HttpStatusCode status)
    {
        var marker = Guid.NewGuid().ToString();
        var response = await send($"/auth/sessions/{marker}");
        Assert.Equal(status, response.StatusCode);
        return await LinesAsync(l => l.Contains(marker, StringComparison.Ordinal));
    }

    // The request's line is written as the response completes, a moment after the client has it.
    private Task<List<string>> LinesAsync(Func<string, bool> about, int skip = 0) =>
        Eventually.ThatAsync(() => Task.FromResult<List<string>>([.. _fx.Logs.Lines.Skip(skip).Where(about)]), lines => lines.Count > 0,
            TimeSpan.FromSeconds(5), "the request's log line");

    [Fact]
    public async Task A_revoked_credential_writes_one_line_that_says_why()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        Assert.Equal(HttpStatusCode.NoContent, (await _fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", login)).StatusCode);
        var lines = await LinesOfAsync(path => _fx.Api.SendAsync(HttpMethod.Delete, path, login), HttpStatusCode.Unauthorized);
        var line = Assert.Single(lines);
        Assert.Contains("responded 401", line, StringComparison.Ordinal);
        Assert.Contains("\"credential refused, session-revoked (logged-out)\"", line, StringComparison.Ordinal);
        Assert.DoesNotContain(login.Bearer, _fx.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_credential_writes_one_line()
    {
        var lines = await LinesOfAsync(path => _fx.Api.SendAsync(HttpMethod.Delete, path, configure: r =>
            r.Headers.TryAddWithoutValidation("Authorization", "Bearer forged-credential-that-is-nothing")), HttpStatusCode.Unauthorized);
        Assert.Contains("\"credential refused, unauthenticated\"", Assert.Single(lines), StringComparison.Ordinal);
        Assert.DoesNotContain("forged-credential-that-is-nothing", _fx.Logs.All, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_credential_at_all_writes_one_line()
    {
        var lines = await LinesOfAsync(path => _fx.Api.SendAsync(HttpMethod.Delete, path), HttpStatusCode.Unauthorized);
        Assert.Contains("responded 401", Assert.Single(lines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_without_the_permission_writes_one_line()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var marker = Guid.NewGuid().ToString();
        Assert.Equal(HttpStatusCode.Forbidden, (await _fx.Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{marker}", login)).StatusCode);
        Assert.Contains("responded 403", Assert.Single(await LinesAsync(l => l.Contains(marker, StringComparison.Ordinal))), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_password_writes_one_line_naming_the_tenant_only()
    {
        var user = await _fx.NewUserAsync();
        var before = _fx.Logs.Lines.Count;
        var response = await _fx.Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = "wrong-password-" + user.Username });
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var lines = await LinesAsync(l => l.Contains("/auth/login", StringComparison.Ordinal) || l.Contains("Login", StringComparison.Ordinal), before);
        Assert.Contains("\"invalid-credentials in tenant acme\"", Assert.Single(lines), StringComparison.Ordinal);
        Assert.DoesNotContain(user.Username, string.Join("\n", _fx.Logs.Lines.Skip(before)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cross_site_cookie_writes_one_line()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        if (!TMode.CookieIsCredential)
        {
            Assert.Null(login.Cookie); // no session cookie in this mode, so no cross-site cookie to refuse
            return;
        }
        var lines = await LinesOfAsync(path => _fx.Api.SendAsync(HttpMethod.Delete, path, configure: r =>
        {
            r.Headers.Add("Cookie", login.Cookie);
            r.Headers.Add("Origin", "https://evil.example");
        }), HttpStatusCode.Forbidden);
        Assert.Contains("\"credential refused, cross-site-request\"", Assert.Single(lines), StringComparison.Ordinal);
    }
}

/// <summary>The app on real loopback sockets, asked (by <c>Startup:RequestedUrls</c>) for a port it did not get.</summary>
public sealed class ListeningFixture : AppFixture<Opaque>
{
    public int PublicPort { get; } = FreePort();
    public int ManagementPort { get; } = FreePort();
    public int MissedPort { get; } = FreePort();

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Management:Urls"] = $"http://127.0.0.1:{ManagementPort}";
        settings["Startup:RequestedUrls"] = $"http://127.0.0.1:{MissedPort};http://127.0.0.1:{ManagementPort}";
        settings["ForwardedHeaders:Enabled"] = "false"; // no TLS proxy: the cookie rule is judged on the addresses
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Factory.UseKestrel(o =>
        {
            o.Listen(IPAddress.Loopback, PublicPort);
            o.Listen(IPAddress.Loopback, ManagementPort);
        });
        Factory.StartServer();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>What start-up says about where it listens (one line), a port that moved (a warning) and a cookie browsers would drop.</summary>
public sealed class ListeningReportTests(ListeningFixture fx, ITestOutputHelper output) : IClassFixture<ListeningFixture>
{
    private async Task<string> LogsAsync()
    {
        fx.Attach(output);
        var addresses = fx.Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Assert.NotEmpty(addresses);
        // ApplicationStarted has run by the time the server answers.
        using var http = new HttpClient();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"http://127.0.0.1:{fx.PublicPort}/health/live")).StatusCode);
        return fx.Logs.All;
    }

    [Fact]
    public async Task Start_up_names_the_public_and_the_management_urls_in_one_line()
    {
        var logs = await LogsAsync();
        var line = Assert.Single(logs.Split('\n'), l => l.Contains("SessionGate serves", StringComparison.Ordinal) && !l.Contains("NOT on", StringComparison.Ordinal));
        Assert.StartsWith("[Information]", line, StringComparison.Ordinal);
        // (The test sink quotes strings; the console does not.)
        Assert.Contains($"SessionGate serves \"http://127.0.0.1:{fx.PublicPort}\"; the management listener (/metrics, /health/ready) is \"http://127.0.0.1:{fx.ManagementPort}\"",
            line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_port_that_moved_is_a_warning_naming_both()
    {
        var logs = await LogsAsync();
        var line = Assert.Single(logs.Split('\n'), l => l.Contains("that port was taken", StringComparison.Ordinal));
        Assert.StartsWith("[Warning]", line, StringComparison.Ordinal);
        Assert.Contains($"NOT on \"http://127.0.0.1:{fx.MissedPort}\":", line, StringComparison.Ordinal);
        Assert.Contains($"SessionGate serves \"http://127.0.0.1:{fx.PublicPort}\" (management: \"http://127.0.0.1:{fx.ManagementPort}\")", line, StringComparison.Ordinal);
        // The management port is where it was asked for: not named as moved.
        Assert.DoesNotContain($"NOT on \"http://127.0.0.1:{fx.ManagementPort}", logs, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Loopback_over_plain_http_is_no_cookie_warning()
    {
        Assert.DoesNotContain("browsers there drop it", await LogsAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://0.0.0.0:8080", true)]
    [InlineData("http://[::]:8080", true)]
    [InlineData("http://192.168.1.5:8080", true)]
    [InlineData("http://sessiongate.lan:8080", true)]
    [InlineData("https://0.0.0.0:8443", false)]
    [InlineData("https://sessiongate.example:443", false)]
    [InlineData("http://localhost:8080", false)]
    [InlineData("http://127.0.0.1:8080", false)]
    [InlineData("http://127.0.0.2:8080", false)]
    [InlineData("http://[::1]:8080", false)]
    public void Secure_cookies_are_dropped_over_plain_http_beyond_loopback(string address, bool dropped) =>
        Assert.Equal(dropped, ListeningReport.DropsSecureCookies(address));

    [Fact]
    public void A_bad_requested_url_stops_the_start()
    {
        var bad = fx.AnotherInstance(s => s["Startup:RequestedUrls"] = "127.0.0.1:8080");
        var e = Assert.ThrowsAny<Exception>(() => bad.Http);
        Assert.Contains("Startup:RequestedUrls must list absolute http(s) URLs", e.ToString(), StringComparison.Ordinal);
    }
}
