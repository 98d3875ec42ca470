using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using SessionGate.Tests.Infrastructure;
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
            if (Api.IsJwtMode) request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + login.Bearer);
            else request.Headers.TryAddWithoutValidation("Cookie", login.Cookie);
        }
        configure?.Invoke(request);
        var response = await Http.SendAsync(request);
        if ((int)response.StatusCode >= 500) _output.WriteLine($"{edge} {(int)response.StatusCode}: {proxy.Log()}");
        return response;
    }

    private async Task<JsonElement> JsonThroughAsync(string edge, string path, Login login, Action<HttpRequestMessage>? configure = null)
    {
        var response = await ThroughAsync(edge, path, login, configure);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{edge} {path}: {(int)response.StatusCode} {text}");
        Assert.False(response.Headers.Contains("X-Internal-JWT"));
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private static string[] Roles(JsonElement echo) => [.. echo.GetProperty("claims").GetProperty("roles").EnumerateArray().Select(r => r.GetString()!)];

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task Without_a_credential_the_edge_answers_401_and_the_service_is_never_called(string edge)
    {
        var hits = _fx.Hits;
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/claims", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/claims", null, r => r.Headers.Add("X-Internal-JWT", _fx.LastInternalJwt ?? "x.y.z"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/raw", null, r => r.Headers.Add("Authorization", "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))).StatusCode);
        Assert.Equal(hits, _fx.Hits);
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task The_client_cannot_send_its_own_internal_jwt_and_its_credential_stays_at_the_edge(string edge)
    {
        var user = await _fx.NewUserAsync(["reporter"]);
        var login = await Api.LoginAsync(user);
        var raw = await JsonThroughAsync(edge, "/raw", login, r =>
        {
            r.Headers.TryAddWithoutValidation("X-Internal-JWT", "spoofed.by.client");
            r.Headers.Remove("Cookie");
            r.Headers.TryAddWithoutValidation("Cookie", $"theme=dark; __Host-sid={login.Bearer}; lang=en");
        });
        var jwt = Assert.Single(raw.GetProperty("jwt").EnumerateArray()).GetString()!;
        Assert.NotEqual("spoofed.by.client", jwt);
        var payload = TokenForge.Split(jwt).Payload;
        Assert.Equal(EdgeFixture<TMode>.AudienceA, payload["aud"]!.GetValue<string>());
        Assert.Equal(user.Id.ToString(), payload["sub"]!.GetValue<string>());
        Assert.Equal("theme=dark; lang=en", raw.GetProperty("cookie").GetString());
        Assert.Equal("", raw.GetProperty("authorization").GetString());

        // The service verifies it with stock JwtBearer against the JWKS, and sees no credential of the client's.
        var echo = await JsonThroughAsync(edge, "/claims", login);
        Assert.Equal(["reporter"], Roles(echo));
        Assert.Equal("", echo.GetProperty("received").GetProperty("authorization").GetString());
        Assert.DoesNotContain("__Host-sid", echo.GetProperty("received").GetProperty("cookies").EnumerateArray().Select(c => c.GetString()));
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task A_logged_out_or_kicked_session_is_refused_on_the_next_request(string edge)
    {
        var user = await _fx.NewUserAsync();
        var loggedOut = await Api.LoginAsync(user);
        var kicked = await Api.LoginAsync(user);
        await JsonThroughAsync(edge, "/claims", loggedOut);
        await JsonThroughAsync(edge, "/claims", kicked);
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
        Assert.Equal(["user"], Roles(await JsonThroughAsync(edge, "/claims", login)));
        await Api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", await _fx.AliceAsync(), new { roles = new[] { "reporter" } });
        if (TMode.RoleChangeNeedsRefresh)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/claims", login)).StatusCode);
            login = await Api.RefreshAsync(login);
        }
        Assert.Equal(["reporter"], Roles(await JsonThroughAsync(edge, "/claims", login)));
    }

    [EdgeTheory, InlineData("nginx"), InlineData("caddy")]
    public async Task A_per_request_route_gets_a_fresh_single_use_token_tied_to_the_callers_trace(string edge)
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        var seen = new List<JsonObject>();
        for (var i = 0; i < 2; i++)
        {
            await JsonThroughAsync(edge, "/strict/claims", login, r =>
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
        await JsonThroughAsync(edge, "/claims", login);
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
        await JsonThroughAsync(edge, "/claims", login);
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
                if (!Api.IsJwtMode) r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + login.Bearer);
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
        var both = await JsonThroughAsync(edge, "/call-b", login, r =>
            r.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01"));
        string One(JsonElement echo, string claim) => echo.GetProperty("claims").GetProperty(claim).GetString()!;
        var a = both.GetProperty("a");
        var b = both.GetProperty("b");
        Assert.Equal(EdgeFixture<TMode>.AudienceA, One(a, "aud"));
        Assert.Equal("service-b", One(b, "aud"));
        Assert.Equal(user.Id.ToString(), One(b, "sub"));
        Assert.Equal(One(a, "sid"), One(b, "sid"));
        Assert.NotEqual(One(a, "jti"), One(b, "jti"));
        Assert.Equal(traceId, One(a, "trace_id"));
        Assert.Equal(traceId, One(b, "trace_id"));
        Assert.Equal(EdgeFixture<TMode>.ClientA, b.GetProperty("claims").GetProperty("act").GetProperty("sub").GetString());

        // One audit trail: the exchange, with the hop and the trace.
        var audit = await Api.GetJsonAsync($"/admin/audit?type=token.exchanged&user_id={user.Id}", await _fx.AliceAsync());
        var detail = audit.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("detail"))
            .Single(d => d.GetProperty("trace_id").GetString() == traceId);
        Assert.Equal(EdgeFixture<TMode>.ClientA, detail.GetProperty("client_id").GetString());
        Assert.Equal(One(b, "jti"), detail.GetProperty("jti").GetString());

        // After logout, A can no longer act for the user: the edge stops the request before A.
        await Api.SendAsync(HttpMethod.Post, "/auth/logout", login);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ThroughAsync(edge, "/call-b", login)).StatusCode);
    }
}
