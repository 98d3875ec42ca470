using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Downstream;
using SessionGate.Gateway;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Tokens;
using SessionGate.Tokens;
using Xunit.Abstractions;

namespace SessionGate.Tests.Gateway;

/// <summary>The app plus a real downstream on a real port that trusts only X-Internal-JWT, checked by stock JwtBearer.</summary>
public class GatewayFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public const string Audience = "downstream-api";
    private WebApplication? _downstream;
    private int _hits;

    public string DownstreamUrl { get; private set; } = "";
    public int Hits => Volatile.Read(ref _hits);
    public string? LastInternalJwt { get; private set; }
    public HttpClient Direct { get; } = new();

    public override async Task InitializeAsync()
    {
        _downstream = DownstreamApp.Build(["--urls", "http://127.0.0.1:0", "--Downstream:Authority", "http://localhost", "--Downstream:Audience", Audience],
            o =>
            {
                // Fetch our JWKS from the in-process app; everything else is stock JwtBearer.
                o.BackchannelHttpHandler = Factory.Server.CreateHandler();
                o.RefreshInterval = TimeSpan.FromSeconds(1);
            });
        _downstream.Use(async (ctx, next) =>
        {
            Interlocked.Increment(ref _hits);
            if (ctx.Request.Headers["X-Internal-JWT"].Count == 1) LastInternalJwt = ctx.Request.Headers["X-Internal-JWT"][0];
            await next(ctx);
        });
        // Echoes the internal JWT it received back as a response header, and says in the body whether it got one.
        _downstream.MapGet("/leak", (HttpContext ctx) =>
        {
            ctx.Response.Headers["X-Internal-JWT"] = ctx.Request.Headers["X-Internal-JWT"].ToString();
            return ctx.Request.Headers["X-Internal-JWT"].Count == 1 ? "received" : "none";
        });
        _downstream.MapGet("/raw", (HttpContext ctx) => new
        {
            cookie = ctx.Request.Headers.Cookie.ToString(),
            authorization = ctx.Request.Headers.Authorization.ToString(),
            jwt = ctx.Request.Headers["X-Internal-JWT"].ToString(),
        });
        _downstream.MapGet("/slow", async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(4));
            return "late";
        });
        await _downstream.StartAsync();
        DownstreamUrl = _downstream.Urls.Single().TrimEnd('/');
        await base.InitializeAsync();
    }

    protected override void Configure(IDictionary<string, string?> s)
    {
        void Route(string id, string cluster, string prefix)
        {
            s[$"ReverseProxy:Routes:{id}:ClusterId"] = cluster;
            s[$"ReverseProxy:Routes:{id}:Match:Path"] = prefix + "/{**catch-all}";
            s[$"ReverseProxy:Routes:{id}:Metadata:InternalJwtAudience"] = Audience;
            s[$"ReverseProxy:Routes:{id}:Transforms:0:PathRemovePrefix"] = prefix;
        }
        Route("down", "down", "/down");
        s["ReverseProxy:Clusters:down:Destinations:d1:Address"] = DownstreamUrl + "/";
        Route("dead", "dead", "/dead");
        s["ReverseProxy:Clusters:dead:Destinations:d1:Address"] = "http://127.0.0.1:1/";
        Route("slow", "slow", "/slowpoke");
        Route("strict", "down", "/strict");
        s["ReverseProxy:Routes:strict:Metadata:InternalJwtPerRequest"] = "true";
        Route("reports", "down", "/reports");
        s["ReverseProxy:Routes:reports:Metadata:RequiredPermission"] = "reports:read";
        Route("stepup", "down", "/stepup");
        s["ReverseProxy:Routes:stepup:Metadata:RequiredAcr"] = "aal2";
        s["ReverseProxy:Routes:stepup:Metadata:MaxAuthAge"] = "600";
        s["ReverseProxy:Clusters:slow:Destinations:d1:Address"] = DownstreamUrl + "/";
        s["ReverseProxy:Clusters:slow:HttpRequest:ActivityTimeout"] = "00:00:01";
    }

    public override async Task DisposeAsync()
    {
        if (_downstream is not null) await _downstream.DisposeAsync();
        Direct.Dispose();
        await base.DisposeAsync();
    }
}

public sealed class GatewayTests_Opaque(GatewayFixture<Opaque> fx, ITestOutputHelper o) : GatewayTests<Opaque>(fx, o), IClassFixture<GatewayFixture<Opaque>>;
public sealed class GatewayTests_Blacklist(GatewayFixture<Blacklist> fx, ITestOutputHelper o) : GatewayTests<Blacklist>(fx, o), IClassFixture<GatewayFixture<Blacklist>>;
public sealed class GatewayTests_SessionCache(GatewayFixture<SessionCache> fx, ITestOutputHelper o) : GatewayTests<SessionCache>(fx, o), IClassFixture<GatewayFixture<SessionCache>>;

public abstract class GatewayTests<TMode> where TMode : IMode
{
    private readonly GatewayFixture<TMode> _fx;
    private ApiClient Api => _fx.Api;

    protected GatewayTests(GatewayFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    private async Task<DownstreamEcho> ClaimsAsync(Login login, Action<HttpRequestMessage>? configure = null)
    {
        var response = await Api.SendAsync(HttpMethod.Get, "/down/claims", login, configure: configure);
        Assert.False(response.Headers.Contains("X-Internal-JWT"));
        return await response.ReadAsync<DownstreamEcho>();
    }

    private async Task<IEnumerable<string>> JwksKidsAsync() =>
        new Microsoft.IdentityModel.Tokens.JsonWebKeySet(await (await Api.GetAsync("/.well-known/jwks.json")).Content.ReadAsStringAsync()).Keys.Select(k => k.Kid);

    private async Task<HttpStatusCode> DirectAsync(string path, string? internalJwt)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _fx.DownstreamUrl + path);
        if (internalJwt is not null) request.Headers.Add("X-Internal-JWT", internalJwt);
        return (await _fx.Direct.SendAsync(request)).StatusCode;
    }

    [Fact]
    public async Task Claims_arrive_verified_and_the_clients_own_credentials_are_stripped()
    {
        var user = await _fx.NewUserAsync(["reporter"]);
        var login = await Api.LoginAsync(user);
        var me = await Api.MeAsync(login);
        var echo = await ClaimsAsync(login, r =>
        {
            r.Headers.Add("Cookie", $"theme=dark; __Host-sid={login.Bearer}; lang=en");
            r.Headers.TryAddWithoutValidation("X-Internal-JWT", "spoofed.by.client");
            r.Headers.TryAddWithoutValidation("x-internal-jwt", "another.spoof.attempt");
            r.Headers.Add("X-Custom", "kept");
        });
        // One value per claim, as the token carries it (a list only for roles, permissions and amr).
        var claims = echo.Claims;
        Assert.Equal(user.Id.ToString(), claims.Sub);
        Assert.Equal(me.Session.Id, claims.Sid);
        Assert.Equal(["reporter"], claims.Roles);
        Assert.Equal(GatewayFixture<TMode>.Audience, claims.Aud);
        Assert.Equal("sessiongate", claims.Iss);
        // Tenant-local role names are not enough for a downstream: the tenant's slug and the permissions come too.
        Assert.Equal("acme", claims.Tenant);
        Assert.Equal(["reports:read"], claims.Permissions);
        Assert.False(string.IsNullOrEmpty(claims.Jti));
        Assert.True(claims.Exp - claims.Iat <= 300);
        Assert.True(claims.Nbf <= claims.Iat + 1);

        Assert.Equal("internal+jwt", echo.Header.Typ);
        Assert.Contains(await JwksKidsAsync(), kid => kid == echo.Header.Kid);

        Assert.Equal(["theme", "lang"], echo.Received.Cookies);
        Assert.Equal(new ReceivedCredentials(echo.Received.Cookies, "", 1, "kept"), echo.Received);
        Assert.Null(claims.TraceId);
        Assert.Null(claims.Act);
    }

    [Fact]
    public async Task The_session_cookie_goes_and_other_cookies_pass_byte_for_byte()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        const string others = "a=1%202; q=\"quoted value\"; empty=; x=__Host-sid";
        var response = await Api.SendAsync(HttpMethod.Get, "/down/raw", login, configure: r =>
            r.Headers.TryAddWithoutValidation("Cookie", $"a=1%202; __Host-sid={login.Bearer}; q=\"quoted value\"; empty=; x=__Host-sid"));
        var raw = await response.ReadAsync<RawHeaders>();
        Assert.Equal(others, raw.Cookie);
        Assert.Equal("", raw.Authorization);
    }

    /// <summary>Cookie headers that two parsers could read differently: refused, so the credential never reaches a downstream.</summary>
    public static TheoryData<string> AmbiguousCookies => new()
    {
        "__Host-sid={0}; __Host-sid={0}",            // twice
        "__Host-sid=AAAA; __Host-sid={0}",           // twice, a decoy first
        "__HOST-SID={0}",                            // another case
        "theme=dark, __Host-sid={0}",                // behind a comma
        "__Host-sid ={0}",                           // space before '='
        "__Host-sid={0},x=1",                        // a comma in the value
    };

    [Theory]
    [MemberData(nameof(AmbiguousCookies))]
    public async Task An_ambiguous_session_cookie_is_refused_and_nothing_is_forwarded(string cookie)
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var hits = _fx.Hits;
        // With the cookie alone, and with a valid bearer beside it: refused either way.
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Get, "/down/raw", configure: r =>
            r.Headers.TryAddWithoutValidation("Cookie", string.Format(System.Globalization.CultureInfo.InvariantCulture, cookie, login.Bearer))),
            HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Get, "/down/raw", login, configure: r =>
            r.Headers.TryAddWithoutValidation("Cookie", string.Format(System.Globalization.CultureInfo.InvariantCulture, cookie, login.Bearer))),
            HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        Assert.Equal(hits, _fx.Hits);
        // The same session without the ambiguity goes through.
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/down/raw", login)).StatusCode);
    }

    [Fact]
    public async Task A_route_that_requires_a_permission_refuses_callers_without_it_before_the_downstream()
    {
        var plain = await Api.LoginAsync(await _fx.NewUserAsync(["user"]));
        var reporter = await Api.LoginAsync(await _fx.NewUserAsync(["reporter"]));
        var hits = _fx.Hits;
        var refused = await Problem.AssertAsync(await Api.GetAsync("/reports/claims", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        Assert.Equal(["reports:read"], refused.RequiredPermissions!);
        Assert.Equal(hits, _fx.Hits);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/reports/claims", reporter)).StatusCode);
    }

    /// <summary>The refusal path of RequiredAcr; a session at aal2 (issue 18's step-up) passes the same check.</summary>
    [Fact]
    public async Task A_route_that_requires_a_second_factor_asks_an_aal1_session_to_step_up_before_the_downstream()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync(["reporter"]));
        var hits = _fx.Hits;
        var response = await Api.GetAsync("/stepup/claims", login);
        var problem = await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.StepUpRequired);
        Assert.Equal("aal2", problem.AcrValues);
        Assert.Equal(600L, problem.MaxAge);
        var challenge = response.Headers.WwwAuthenticate.ToString();
        Assert.Contains("insufficient_user_authentication", challenge, StringComparison.Ordinal);
        Assert.Contains("acr_values=\"aal2\"", challenge, StringComparison.Ordinal);
        Assert.Equal(hits, _fx.Hits);
    }

    [Fact]
    public async Task An_authorization_header_carrying_the_session_id_goes_whatever_its_scheme_and_others_pass()
    {
        if (!TMode.CookieIsCredential) return; // only ids that ride in a cookie can be carried by another scheme
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        async Task<string> AuthorizationSeen(string authorization)
        {
            var response = await Api.SendAsync(HttpMethod.Get, "/down/raw", configure: r =>
            {
                r.Headers.Add("Cookie", login.Cookie!);
                r.Headers.TryAddWithoutValidation("Authorization", authorization);
            });
            return (await response.ReadAsync<RawHeaders>()).Authorization;
        }
        Assert.Equal("", await AuthorizationSeen("Session " + login.Bearer));
        Assert.Equal("", await AuthorizationSeen("token=" + login.Bearer));
        Assert.Equal("Basic ZG93bnN0cmVhbTpvd24=", await AuthorizationSeen("Basic ZG93bnN0cmVhbTpvd24="));
    }

    [Fact]
    public async Task A_zero_trust_route_gets_a_fresh_short_lived_token_per_request_tied_to_the_trace()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync(["reporter"]));
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        var tokens = new List<System.Text.Json.Nodes.JsonObject>();
        for (var i = 0; i < 2; i++)
        {
            var response = await Api.SendAsync(HttpMethod.Get, "/strict/claims", login, configure: r =>
                r.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode); // the downstream accepts it
            var jwt = _fx.LastInternalJwt!;
            // A per-request token is single-use: the sample downstream refuses its jti the second time.
            Assert.Equal(HttpStatusCode.Unauthorized, await DirectAsync("/claims", jwt));
            tokens.Add(TokenForge.Split(jwt).Payload);
        }
        Assert.NotEqual(tokens[0]["jti"]!.GetValue<string>(), tokens[1]["jti"]!.GetValue<string>());
        foreach (var p in tokens)
        {
            Assert.True(p["exp"]!.GetValue<long>() - p["iat"]!.GetValue<long>() <= 60);
            Assert.Equal(traceId, p["trace_id"]!.GetValue<string>());
            Assert.Equal(["reports:read"], p["permissions"]!.AsArray().Select(x => x!.GetValue<string>()));
        }
        // The other routes keep the cached per-session token.
        var first = (await ClaimsAsync(login)).Claims.Jti;
        var second = (await ClaimsAsync(login)).Claims.Jti;
        Assert.Equal(first, second);
    }

    [Fact]
    public async Task The_internal_jwt_never_reaches_the_client_even_if_a_downstream_echoes_it()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var response = await Api.SendAsync(HttpMethod.Get, "/down/leak", login);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.False(response.Headers.Contains("X-Internal-JWT"));
        // This very request carried one (read from its answer, not from what an earlier request left behind).
        Assert.Equal("received", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Unauthenticated_or_ended_sessions_never_reach_the_downstream()
    {
        var user = await _fx.NewUserAsync();
        var loggedOut = await Api.LoginAsync(user);
        var kicked = await Api.LoginAsync(user);
        await ClaimsAsync(loggedOut);
        var hits = _fx.Hits;

        await Problem.AssertAsync(await Api.GetAsync("/down/claims"), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Get, "/down/claims", configure: r => r.Headers.Add("X-Internal-JWT", _fx.LastInternalJwt)),
            HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        await Problem.AssertAsync(await Api.GetAsync("/down/claims", loggedOut with { Bearer = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }),
            HttpStatusCode.Unauthorized, Problems.Unauthenticated);

        await Api.SendAsync(HttpMethod.Post, "/auth/logout", loggedOut);
        await Problem.AssertAsync(await Api.GetAsync("/down/claims", loggedOut), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");

        var sid = (await Api.MeAsync(kicked)).Session.Id;
        await Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{sid}", await _fx.AliceAsync());
        await Problem.AssertAsync(await Api.GetAsync("/down/claims", kicked), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        Assert.Equal(hits, _fx.Hits); // none of the refused requests above was forwarded

        var banned = await Api.LoginAsync(user);
        await ClaimsAsync(banned);
        hits = _fx.Hits;
        await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", await _fx.AliceAsync(), new { reason = "gateway" });
        await Problem.AssertAsync(await Api.GetAsync("/down/claims", banned), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "banned");
        Assert.Equal(hits, _fx.Hits);
    }

    [Fact]
    public async Task After_a_role_change_the_next_internal_jwt_carries_the_new_roles()
    {
        var user = await _fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        Assert.Equal(["user"], (await ClaimsAsync(login)).Claims.Roles);
        await Api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", await _fx.AliceAsync(), new { roles = new[] { "reporter" } });
        if (TMode.RoleChangeNeedsRefresh)
        {
            await Problem.AssertAsync(await Api.GetAsync("/down/claims", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "roles-changed");
            login = await Api.RefreshAsync(login);
        }
        Assert.Equal(["reporter"], (await ClaimsAsync(login)).Claims.Roles);
    }

    [Fact]
    public async Task The_downstream_refuses_forged_spoofed_and_wrong_audience_tokens()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        await ClaimsAsync(login);
        var genuine = _fx.LastInternalJwt!;
        Assert.Equal(HttpStatusCode.OK, await DirectAsync("/claims", genuine));
        Assert.Equal(HttpStatusCode.Unauthorized, await DirectAsync("/claims", null));

        var (h, p, s) = TokenForge.Split(genuine);
        var none = TokenForge.Clone(h);
        none["alg"] = "none";
        Assert.Equal(HttpStatusCode.Unauthorized, await DirectAsync("/claims", TokenForge.Unsigned(none, p)));
        var elevated = TokenForge.Clone(p);
        elevated["roles"] = new JsonArray("admin");
        Assert.Equal(HttpStatusCode.Unauthorized, await DirectAsync("/claims", TokenForge.Unsigned(h, elevated, s)));
        Assert.Equal(HttpStatusCode.Unauthorized, await DirectAsync("/claims", TokenForge.SignWithOwnKey(TokenForge.Clone(h), p, embedJwk: true)));

        var tokens = _fx.Factory.Services.GetRequiredService<InternalTokens>();
        var principal = new SessionIdentity(Guid.NewGuid(), Guid.NewGuid(), "acme", "x", Guid.NewGuid(), "web", ["user"], [],
            DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1)).ToPrincipal();
        Assert.Equal(HttpStatusCode.Unauthorized, await DirectAsync("/claims", await tokens.GetAsync(principal, "some-other-api", default)));
        Assert.Equal(HttpStatusCode.OK, await DirectAsync("/claims", await tokens.GetAsync(principal, GatewayFixture<TMode>.Audience, default)));
        if (TMode.HasRefreshTokens)
            Assert.Equal(HttpStatusCode.Unauthorized, await DirectAsync("/claims", login.Bearer)); // an access token is not an internal token
    }

    [Fact]
    public async Task After_key_rotation_old_tokens_still_verify_and_new_ones_carry_the_new_kid()
    {
        var before = await Api.LoginAsync(await _fx.NewUserAsync());
        var oldKid = (await ClaimsAsync(before)).Header.Kid;
        var oldToken = _fx.LastInternalJwt!;

        var newKid = (await (await Api.SendAsync(HttpMethod.Post, "/admin/keys/rotate", await _fx.PlatformAdminAsync())).ReadAsync<RotatedKey>()).Kid;
        Assert.NotEqual(oldKid, newKid);
        Assert.Equal(HttpStatusCode.OK, await DirectAsync("/claims", oldToken));

        var after = await Api.LoginAsync(await _fx.NewUserAsync());
        // A downstream learns a new kid by re-reading the JWKS (JwtBearer refreshes on an unknown kid, at most once a second here).
        var response = await Eventually.StatusAsync(() => Api.GetAsync("/down/claims", after), HttpStatusCode.OK, TimeSpan.FromSeconds(5));
        Assert.Equal(newKid, (await response.ReadAsync<DownstreamEcho>()).Header.Kid);
        Assert.Equal(HttpStatusCode.OK, await DirectAsync("/claims", oldToken));
    }

    [Fact]
    public async Task A_dead_or_slow_downstream_gives_502_or_504_without_internal_detail()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var dead = await Api.GetAsync("/dead/anything", login);
        var body = await Problem.AssertAsync(dead, HttpStatusCode.BadGateway, Problems.BadGateway);
        Assert.DoesNotContain("127.0.0.1", System.Text.Json.JsonSerializer.Serialize(body));
        Assert.DoesNotContain("refused", System.Text.Json.JsonSerializer.Serialize(body), StringComparison.OrdinalIgnoreCase);
        await Problem.AssertAsync(await Api.GetAsync("/slowpoke/slow", login), HttpStatusCode.GatewayTimeout, Problems.GatewayTimeout);
    }
}
