using System.Net;
using System.Text.Json.Nodes;
using SessionGate.Tests.AdminConsole;
using SessionGate.Tests.Gateway;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.TokenExchange;
using SessionGate.Tests.Tokens;
using Xunit.Abstractions;

namespace SessionGate.Tests.Edge;

/// <summary>A theory that runs where Debian's nginx and caddy are installed (scripts/test installs both).</summary>
public sealed class EdgeTheoryAttribute : TheoryAttribute
{
    public EdgeTheoryAttribute()
    {
        if ((EdgeProxy.Missing("nginx") ?? EdgeProxy.Missing("caddy")) is { } why) Skip = why;
    }
}

public sealed class EdgeTests_Opaque(EdgeFixture<Opaque> fx, ITestOutputHelper o) : EdgeTests<Opaque>(fx, o), IClassFixture<EdgeFixture<Opaque>>;
public sealed class EdgeTests_Blacklist(EdgeFixture<Blacklist> fx, ITestOutputHelper o) : EdgeTests<Blacklist>(fx, o), IClassFixture<EdgeFixture<Blacklist>>;
public sealed class EdgeTests_SessionCache(EdgeFixture<SessionCache> fx, ITestOutputHelper o) : EdgeTests<SessionCache>(fx, o), IClassFixture<EdgeFixture<SessionCache>>;

/// <summary>
/// SessionGate as the auth service of the edges teams already run: real nginx (auth_request) and Caddy (forward_auth)
/// with the configurations in docs/edge/, in front of the sample service, in every mode.
/// </summary>
public abstract class EdgeTests<TMode> where TMode : IMode
{
    private readonly EdgeFixture<TMode> _fx;
    private readonly ITestOutputHelper _output;
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false });

    protected EdgeTests(EdgeFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        _output = output;
        fx.Attach(output);
    }

    private ApiClient Api => _fx.Api;

    /// <summary>A request through the edge, carrying the login's credential as this mode's clients do.</summary>
    private async Task<HttpResponseMessage> ThroughAsync(string edge, string path, Login? login, Action<HttpRequestMessage>? configure = null)
    {
        var proxy = _fx.Edges[edge];
        using var request = new HttpRequestMessage(HttpMethod.Get, proxy.Url + path);
        if (login is not null)
        {
            if (TMode.CookieIsCredential) request.Headers.TryAddWithoutValidation("Cookie", login.Cookie);
            else request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + login.Bearer);
        }
        configure?.Invoke(request);
        var response = await Http.SendAsync(request);
        if ((int)response.StatusCode >= 500) _output.WriteLine($"{edge} {(int)response.StatusCode}: {proxy.Log()}");
        return response;
    }

    private async Task<T> JsonThroughAsync<T>(string edge, string path, Login login, Action<HttpRequestMessage>? configure = null)
    {
        var response = await ThroughAsync(edge, path, login, configure);
        Assert.False(response.Headers.Contains("X-Internal-JWT"));
        return await response.ReadAsync<T>();
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task Without_a_credential_the_edge_answers_401_and_the_service_is_never_called(string edge)
    {
        // A genuine internal JWT, minted for this test: sent by a client, it is no credential.
        Assert.Equal(HttpStatusCode.OK, (await ThroughAsync(edge, "/claims", await Api.LoginAsync(await _fx.NewUserAsync()))).StatusCode);
        var genuine = _fx.LastInternalJwt!;
        var hits = _fx.Hits;
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/claims", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/claims", null, r => r.Headers.Add("X-Internal-JWT", genuine))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/raw", null, r => r.Headers.Add("Authorization", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))).StatusCode);
        Assert.Equal(hits, _fx.Hits);
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task The_client_cannot_send_its_own_internal_jwt_and_its_credential_stays_at_the_edge(string edge)
    {
        var user = await _fx.NewUserAsync(["reporter"]);
        var login = await Api.LoginAsync(user);
        var raw = await JsonThroughAsync<EdgeRaw>(edge, "/raw", login, r =>
        {
            r.Headers.TryAddWithoutValidation("X-Internal-JWT", "spoofed.by.client");
            r.Headers.Remove("Cookie");
            r.Headers.TryAddWithoutValidation("Cookie", $"theme=dark; __Host-sid={login.Bearer}; lang=en");
        });
        var jwt = Assert.Single(raw.Jwt);
        Assert.NotEqual("spoofed.by.client", jwt);
        var payload = TokenForge.Split(jwt).Payload;
        Assert.Equal(EdgeFixture<TMode>.AudienceA, payload["aud"]!.GetValue<string>());
        Assert.Equal(user.Id.ToString(), payload["sub"]!.GetValue<string>());
        Assert.Equal("theme=dark; lang=en", raw.Cookie);
        Assert.Equal("", raw.Authorization);

        // The service verifies it with stock JwtBearer against the JWKS, and sees no credential of the client's.
        var echo = await JsonThroughAsync<DownstreamEcho>(edge, "/claims", login);
        Assert.Equal(["reporter"], echo.Claims.Roles);
        Assert.Equal("", echo.Received.Authorization);
        Assert.DoesNotContain("__Host-sid", echo.Received.Cookies);
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task A_logged_out_or_kicked_session_is_refused_on_the_next_request(string edge)
    {
        var user = await _fx.NewUserAsync();
        var loggedOut = await Api.LoginAsync(user);
        var kicked = await Api.LoginAsync(user);
        await JsonThroughAsync<DownstreamEcho>(edge, "/claims", loggedOut);
        await JsonThroughAsync<DownstreamEcho>(edge, "/claims", kicked);
        var hits = _fx.Hits;

        await Api.SendAsync(HttpMethod.Post, "/auth/logout", loggedOut);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/claims", loggedOut)).StatusCode);
        var sid = (await Api.MeAsync(kicked)).Session.Id;
        await Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{sid}", await _fx.AliceAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/claims", kicked)).StatusCode);
        Assert.Equal(hits, _fx.Hits);
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task A_role_change_shows_on_the_next_request(string edge)
    {
        var user = await _fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        Assert.Equal(["user"], (await JsonThroughAsync<DownstreamEcho>(edge, "/claims", login)).Claims.Roles);
        await Api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", await _fx.AliceAsync(), new { roles = new[] { "reporter" } });
        if (TMode.RoleChangeNeedsRefresh)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/claims", login)).StatusCode);
            login = await Api.RefreshAsync(login);
        }
        Assert.Equal(["reporter"], (await JsonThroughAsync<DownstreamEcho>(edge, "/claims", login)).Claims.Roles);
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task A_per_request_route_gets_a_fresh_single_use_token_tied_to_the_callers_trace(string edge)
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        var seen = new List<JsonObject>();
        for (var i = 0; i < 2; i++)
        {
            await JsonThroughAsync<DownstreamEcho>(edge, "/strict/claims", login, r =>
                r.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01"));
            var jwt = _fx.LastInternalJwt!;
            seen.Add(TokenForge.Split(jwt).Payload);
            // Single-use at the service: the same token again, straight to it, is refused, and says nothing about why.
            using var replay = new HttpRequestMessage(HttpMethod.Get, _fx.ServiceAUrl + "/claims");
            replay.Headers.Add("X-Internal-JWT", jwt);
            var refused = await Http.SendAsync(replay);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.ToString());
        }
        Assert.NotEqual(seen[0]["jti"]!.GetValue<string>(), seen[1]["jti"]!.GetValue<string>());
        Assert.All(seen, p => Assert.Equal(traceId, p["trace_id"]!.GetValue<string>()));
        Assert.All(seen, p => Assert.True(p["exp"]!.GetValue<long>() - p["iat"]!.GetValue<long>() <= 60));
    }

    /// <summary>The refusal path of RequiredAcr; an aal2 session (issue 18's step-up) passes the same check.</summary>
    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task A_route_that_requires_a_second_factor_refuses_an_aal1_session_before_the_service(string edge)
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync(["reporter"]));
        var hits = _fx.Hits;
        var response = await ThroughAsync(edge, "/stepup/claims", login);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("insufficient_user_authentication", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(hits, _fx.Hits);
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task With_sessiongate_down_the_edge_answers_5xx_and_never_passes_the_request(string edge)
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        await JsonThroughAsync<DownstreamEcho>(edge, "/claims", login);
        var hits = _fx.Hits;
        _fx.Relay.Cut();
        try
        {
            foreach (var caller in new[] { login, null })
            {
                var response = await ThroughAsync(edge, "/claims", caller);
                Assert.InRange((int)response.StatusCode, 500, 599);
            }
        }
        finally
        {
            _fx.Relay.Restore();
        }
        Assert.Equal(hits, _fx.Hits);
        await JsonThroughAsync<DownstreamEcho>(edge, "/claims", login);
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task An_ambiguous_cookie_header_is_refused_at_the_edge(string edge)
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var hits = _fx.Hits;
        foreach (var cookie in new[] { $"__Host-sid={login.Bearer}; __Host-sid={login.Bearer}", $"__HOST-SID={login.Bearer}", $"theme=dark, __Host-sid={login.Bearer}" })
        {
            var response = await ThroughAsync(edge, "/raw", null, r => r.Headers.TryAddWithoutValidation("Cookie", cookie));
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            response = await ThroughAsync(edge, "/raw", login, r =>
            {
                r.Headers.Remove("Cookie");
                r.Headers.TryAddWithoutValidation("Cookie", cookie);
                if (TMode.CookieIsCredential) r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + login.Bearer);
            });
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        Assert.Equal(hits, _fx.Hits);
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task Service_a_calls_service_b_as_the_user_through_token_exchange_under_one_trace(string edge)
    {
        var user = await _fx.NewUserAsync(["reporter"]);
        var login = await Api.LoginAsync(user);
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        var both = await JsonThroughAsync<ChainEcho>(edge, "/call-b", login, r =>
            r.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01"));
        var (a, b) = (both.A.Claims, both.B.Claims);
        Assert.Equal(EdgeFixture<TMode>.AudienceA, a.Aud);
        Assert.Equal("service-b", b.Aud);
        Assert.Equal(user.Id.ToString(), b.Sub);
        Assert.Equal(a.Sid, b.Sid);
        Assert.NotEqual(a.Jti, b.Jti);
        Assert.Equal(traceId, a.TraceId);
        Assert.Equal(traceId, b.TraceId);
        Assert.Null(a.Act);
        Assert.Equal(new Actor(EdgeFixture<TMode>.ClientA), b.Act);

        // One audit trail: the exchange, with the hop and the trace.
        var audit = await (await Api.GetAsync($"/admin/audit?type=token.exchanged&user_id={user.Id}", await _fx.AliceAsync())).ReadAsync<Paged<AuditEntry>>();
        var detail = audit.Items.Select(e => e.Detail!.Value.As<ExchangeAudit>()).Single(d => d.TraceId == traceId);
        Assert.Equal(EdgeFixture<TMode>.ClientA, detail.ClientId);
        Assert.Equal(b.Jti, detail.Jti);

        // After logout, A can no longer act for the user: the edge stops the request before A.
        await Api.SendAsync(HttpMethod.Post, "/auth/logout", login);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/call-b", login)).StatusCode);
    }
}
