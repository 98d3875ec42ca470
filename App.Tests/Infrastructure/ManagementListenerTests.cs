using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Infrastructure;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// /metrics and /health/ready on the management listener only (API.md, "Management endpoints"); /health/live on
/// both. The in-memory server has no socket: a request "arrives" on the management port by its connection's local
/// port (<see cref="ApiClient.Management"/>), as Kestrel reports it; <see cref="ManagementOverSocketsTests"/> does the
/// same over real sockets. Mode-independent, so one mode is enough.
/// </summary>
public sealed class ManagementListenerTests(AppFixture<Opaque> fx) : IClassFixture<AppFixture<Opaque>>
{
    [Fact]
    public void The_shipped_management_listener_is_on_loopback_port_9464()
    {
        var options = fx.Factory.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ManagementOptions>>().Value;
        Assert.Equal("http://127.0.0.1:9464", options.Urls);
        Assert.Equal([9464], options.Ports());
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/health/ready")]
    public async Task Management_endpoints_answer_404_on_the_public_listener_and_200_on_the_management_one(string path)
    {
        await Problem.AssertAsync(await fx.Api.GetAsync(path), HttpStatusCode.NotFound, Problems.NotFound);
        // A Host header naming the management port changes nothing: the connection's port decides.
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Get, path, configure: r => r.Headers.Host = "127.0.0.1:9464"),
            HttpStatusCode.NotFound, Problems.NotFound);

        var served = await fx.Api.Management.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var body = await served.Content.ReadAsStringAsync();
        if (path == "/metrics") Assert.Contains("sessiongate_", body, StringComparison.Ordinal);
        else Assert.Contains("\"mode\":\"Opaque\"", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Liveness_answers_on_both_listeners()
    {
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.Management.GetAsync("/health/live")).StatusCode);
    }

    [Theory]
    [InlineData("GET", "/auth/me")]
    [InlineData("POST", "/auth/login")]
    [InlineData("GET", "/.well-known/jwks.json")]
    [InlineData("GET", "/swagger/index.html")]
    [InlineData("GET", "/admin/users")]
    [InlineData("GET", "/errors")]
    public async Task The_management_listener_serves_nothing_else(string method, string path)
    {
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + login.Bearer);
        if (method == "POST") request.Content = System.Net.Http.Json.JsonContent.Create(new { tenant = "acme", username = "bob", password = AppFixture<Opaque>.DemoPassword });
        var response = await fx.Api.Management.SendAsync(request);
        await Problem.AssertAsync(response, HttpStatusCode.NotFound, Problems.NotFound);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task With_no_management_urls_one_listener_serves_everything()
    {
        var single = fx.AnotherInstance(s => s["Management:Urls"] = "");
        Assert.Equal(HttpStatusCode.OK, (await single.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await single.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task A_management_listener_beyond_loopback_is_warned_about_and_a_bad_one_stops_the_start()
    {
        var wide = fx.AnotherInstance(s => s["Management:Urls"] = "http://0.0.0.0:19464");
        Assert.Equal(HttpStatusCode.OK, (await wide.GetAsync("/health/live")).StatusCode);
        Assert.Contains("http://0.0.0.0:19464\") listens beyond loopback", fx.Logs.All, StringComparison.Ordinal);

        var bad = fx.AnotherInstance(s => s["Management:Urls"] = "http://127.0.0.1");
        var e = Assert.ThrowsAny<Exception>(() => bad.Http);
        Assert.Contains("Management:Urls must be absolute http(s) URLs, each with an explicit port", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_public_urls_come_from_the_usual_settings()
    {
        static IReadOnlyList<string> Of(params (string Key, string Value)[] settings) => ManagementListener.PublicUrls(
            new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build());
        Assert.Equal(["http://127.0.0.1:8080", "http://[::1]:8080"], Of(("urls", "http://127.0.0.1:8080; http://[::1]:8080")));
        Assert.Equal(["http://*:8080", "https://*:8443"], Of(("http_ports", "8080"), ("https_ports", "8443")));
        Assert.Equal(["http://localhost:5000"], Of());
    }
}

/// <summary>The app on two real Kestrel sockets, the public one and the management one.</summary>
public sealed class ManagementSocketsFixture : AppFixture<Opaque>
{
    public int PublicPort { get; } = FreePort();
    public int ManagementPort { get; } = FreePort();

    protected override void Configure(IDictionary<string, string?> settings) =>
        settings["Management:Urls"] = $"http://127.0.0.1:{ManagementPort}";

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

public sealed class ManagementOverSocketsTests(ManagementSocketsFixture fx) : IClassFixture<ManagementSocketsFixture>
{
    [Fact]
    public async Task Over_real_sockets_metrics_are_refused_on_the_public_port_and_served_on_the_management_port()
    {
        using var http = new HttpClient();
        var (pub, management) = ($"http://127.0.0.1:{fx.PublicPort}", $"http://127.0.0.1:{fx.ManagementPort}");
        foreach (var path in new[] { "/metrics", "/health/ready" })
        {
            await Problem.AssertAsync(await http.GetAsync(pub + path), HttpStatusCode.NotFound, Problems.NotFound);
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(management + path)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(pub + "/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(management + "/health/live")).StatusCode);
        await Problem.AssertAsync(await http.GetAsync(management + "/.well-known/jwks.json"), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(pub + "/.well-known/jwks.json")).StatusCode);
    }
}
