using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Mfa;
using SessionGate.WebhookReceiver;
using Xunit.Abstractions;

namespace SessionGate.Tests.Events;

/// <summary>
/// samples/WebhookReceiver as a Blacklist-mode downstream: it verifies the access JWT itself, and thanks to the
/// webhooks refuses a revoked one long before its exp, and drops its per-user cache when the user's roles change.
/// </summary>
public sealed class ReceiverSampleTests : IClassFixture<WebhookFixture<Blacklist>>, IAsyncLifetime
{
    private readonly WebhookFixture<Blacklist> _fx;
    private WebApplication? _sample;
    private readonly HttpClient _http = new();
    private string _tenant = "";
    private Login _admin = null!;

    public ReceiverSampleTests(WebhookFixture<Blacklist> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    public async Task InitializeAsync()
    {
        (_tenant, _admin) = await _fx.TenantAsync();
        var port = FreePort();
        var response = await _fx.Api.SendAsync(HttpMethod.Post, $"/admin/webhooks?tenant={_tenant}", _admin,
            new { url = $"http://127.0.0.1:{port}/webhooks/sessiongate", events = new[] { "session.ended", "user.roles_changed", "user.banned", "user.deleted" } });
        var secret = (await response.ReadAsync<WebhookCreated>(HttpStatusCode.Created)).Secret;
        _sample = ReceiverApp.Build(["--urls", $"http://127.0.0.1:{port}", "--Receiver:Authority", "http://localhost", "--Receiver:WebhookSecret", secret],
            o => o.BackchannelHttpHandler = _fx.Factory.Server.CreateHandler()); // our JWKS, from the in-process app
        await _sample.StartAsync();
        _http.BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public async Task DisposeAsync()
    {
        if (_sample is not null) await _sample.DisposeAsync();
        _http.Dispose();
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    private Task<HttpResponseMessage> ProfileAsync(Login login)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/profile");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + login.Bearer);
        return _http.SendAsync(request);
    }

    [Fact]
    public async Task A_downstream_that_verifies_the_access_JWT_itself_refuses_it_once_the_session_ended_long_before_its_exp()
    {
        var user = await _fx.NewUserAsync(tenant: _tenant);
        var login = await _fx.Api.LoginAsync(user);
        Assert.Equal(HttpStatusCode.OK, (await ProfileAsync(login)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await _fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", login)).StatusCode);
        await Eventually.StatusAsync(() => ProfileAsync(login), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(15));
        Assert.True(login.Body.As<LoginResponse>().ExpiresIn > 600, "refused long before the token's own exp");
        // A forged delivery changes nothing.
        var forged = new HttpRequestMessage(HttpMethod.Post, "/webhooks/sessiongate")
        {
            Content = new StringContent("""{"type":"session.ended","timestamp":"2030-01-01T00:00:00Z","data":{"user_id":"00000000-0000-0000-0000-000000000001","session_id":"00000000-0000-0000-0000-000000000001"}}"""),
        };
        forged.Headers.TryAddWithoutValidation("webhook-id", "msg_forged");
        forged.Headers.TryAddWithoutValidation("webhook-timestamp", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString());
        forged.Headers.TryAddWithoutValidation("webhook-signature", "v1,AAAA");
        Assert.Equal(HttpStatusCode.Unauthorized, (await _http.SendAsync(forged)).StatusCode);
    }

    [Fact]
    public async Task A_role_change_drops_the_user_s_cache_and_refuses_tokens_issued_before_it()
    {
        var user = await _fx.NewUserAsync(tenant: _tenant);
        var login = await _fx.Api.LoginAsync(user);
        var first = await (await ProfileAsync(login)).ReadAsync<SampleProfile>();
        _fx.Clock.Skip(TimeSpan.FromSeconds(1)); // the change lands in a later second than the token's iat
        var roles = await _fx.Api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles?tenant={_tenant}", _admin, new { roles = Array.Empty<string>() });
        Assert.Equal(HttpStatusCode.OK, roles.StatusCode);
        await Eventually.StatusAsync(() => ProfileAsync(login), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(15));
        var refreshed = await _fx.Api.RefreshAsync(login);
        var again = await (await Eventually.StatusAsync(() => ProfileAsync(refreshed), HttpStatusCode.OK, TimeSpan.FromSeconds(5))).ReadAsync<SampleProfile>();
        Assert.True(again.CachedAt > first.CachedAt, "the per-user cache was dropped");
    }
}

/// <summary>GET /api/profile of the receiver sample (samples/WebhookReceiver), in its own (camelCase) JSON.</summary>
public sealed record SampleProfile(
    [property: System.Text.Json.Serialization.JsonPropertyName("userId")] Guid UserId,
    string[] Roles,
    [property: System.Text.Json.Serialization.JsonPropertyName("cachedAt")] DateTimeOffset CachedAt);
