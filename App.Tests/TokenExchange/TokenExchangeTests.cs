using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Infrastructure;
using SessionGate.ServiceB;
using SessionGate.Tests.AdminConsole;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Tokens;
using SessionGate.Tokens;
using Xunit.Abstractions;

namespace SessionGate.Tests.TokenExchange;

/// <summary>
/// The app with forward-auth rules that mint the tokens services A and B receive, three service clients, and the
/// sample service B (stock JwtBearer against our JWKS) on a real port.
/// </summary>
public sealed class TokenExchangeFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public sealed record Client(string Id, string Secret);

    private WebApplication? _serviceB;

    public Client A { get; private set; } = null!;
    public Client B { get; private set; } = null!;
    public Client Idle { get; private set; } = null!;
    public string ServiceBUrl { get; private set; } = "";

    protected override void Configure(IDictionary<string, string?> s)
    {
        s["ForwardAuth:Rules:a:PathPrefix"] = "/a";
        s["ForwardAuth:Rules:a:Metadata:InternalJwtAudience"] = "svc-a";
        s["ForwardAuth:Rules:a-strict:PathPrefix"] = "/a/strict";
        s["ForwardAuth:Rules:a-strict:Metadata:InternalJwtAudience"] = "svc-a";
        s["ForwardAuth:Rules:a-strict:Metadata:InternalJwtPerRequest"] = "true";
        s["ForwardAuth:Rules:b:PathPrefix"] = "/b";
        s["ForwardAuth:Rules:b:Metadata:InternalJwtAudience"] = "svc-b";
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        A = await CreateClientAsync("svc-a", "svc-a", ["svc-b"]);
        B = await CreateClientAsync("svc-b", "svc-b", ["svc-c"]);
        Idle = await CreateClientAsync("svc-idle", "svc-idle", []);
        _serviceB = ServiceBApp.Build(["--urls", "http://127.0.0.1:0", "--Downstream:Authority", "http://localhost", "--Downstream:Audience", "svc-b"],
            o => o.BackchannelHttpHandler = Factory.Server.CreateHandler());
        await _serviceB.StartAsync();
        ServiceBUrl = _serviceB.Urls.Single().TrimEnd('/');
    }

    public async Task<Client> CreateClientAsync(string id, string audience, string[] mayCall)
    {
        var response = await Api.SendAsync(HttpMethod.Post, "/admin/service-clients", await PlatformAdminAsync(), new { client_id = id, audience, may_call = mayCall });
        return new Client(id, (await response.ReadAsync<ServiceClientSecret>(HttpStatusCode.Created)).ClientSecret);
    }

    public override async Task DisposeAsync()
    {
        if (_serviceB is not null) await _serviceB.DisposeAsync();
        await base.DisposeAsync();
    }
}

public sealed class TokenExchangeTests_Opaque(TokenExchangeFixture<Opaque> fx, ITestOutputHelper o) : TokenExchangeTests<Opaque>(fx, o), IClassFixture<TokenExchangeFixture<Opaque>>;
public sealed class TokenExchangeTests_Blacklist(TokenExchangeFixture<Blacklist> fx, ITestOutputHelper o) : TokenExchangeTests<Blacklist>(fx, o), IClassFixture<TokenExchangeFixture<Blacklist>>;
public sealed class TokenExchangeTests_SessionCache(TokenExchangeFixture<SessionCache> fx, ITestOutputHelper o) : TokenExchangeTests<SessionCache>(fx, o), IClassFixture<TokenExchangeFixture<SessionCache>>;

public abstract class TokenExchangeTests<TMode> where TMode : IMode
{
    private const string Grant = "urn:ietf:params:oauth:grant-type:token-exchange";
    private const string JwtType = "urn:ietf:params:oauth:token-type:jwt";
    private readonly TokenExchangeFixture<TMode> _fx;
    private ApiClient Api => _fx.Api;

    protected TokenExchangeTests(TokenExchangeFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    /// <summary>The internal JWT a service receives for <paramref name="path"/> (forward auth mints it, as for an edge).</summary>
    private async Task<string> ReceivedAsync(Login login, string path, string? traceparent = null)
    {
        var response = await Api.SendAsync(HttpMethod.Get, "/auth/verify", login, configure: r =>
        {
            r.Headers.Add("X-Forwarded-Uri", path);
            if (traceparent is not null) r.Headers.Add("traceparent", traceparent);
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("X-Internal-JWT").Single();
    }

    private Task<HttpResponseMessage> ExchangeAsync(TokenExchangeFixture<TMode>.Client? client, string subject, string audience,
        Action<Dictionary<string, string>>? change = null, string? secret = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = Grant,
            ["subject_token"] = subject,
            ["subject_token_type"] = JwtType,
            ["audience"] = audience,
        };
        change?.Invoke(form);
        return Api.SendAsync(HttpMethod.Post, "/oauth/token", configure: r =>
        {
            r.Content = new FormUrlEncodedContent(form);
            if (client is not null)
            {
                var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(client.Id)}:{Uri.EscapeDataString(secret ?? client.Secret)}"));
                r.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
            }
        });
    }

    private static Task<ExchangedToken> OkAsync(HttpResponseMessage response) => response.ReadAsync<ExchangedToken>();

    /// <summary>An RFC 6749 error body: exactly error and error_description, as JSON.</summary>
    private static async Task ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string error)
    {
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.ReadAsync<OAuthError>(status);
        Assert.Equal(error, body.Error);
        Assert.False(string.IsNullOrEmpty(body.ErrorDescription));
        Assert.True(response.Headers.CacheControl?.NoStore, "no-store");
        if (status == HttpStatusCode.Unauthorized) Assert.StartsWith("Basic", response.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
    }

    private async Task<HttpStatusCode> ServiceBAsync(string token)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, _fx.ServiceBUrl + "/claims");
        request.Headers.Add("X-Internal-JWT", token);
        return (await http.SendAsync(request)).StatusCode;
    }

    [Fact]
    public async Task Service_a_gets_a_token_for_b_with_the_users_claims_and_itself_as_actor()
    {
        var user = await _fx.NewUserAsync(["reporter"]);
        var login = await Api.LoginAsync(user);
        var subject = await ReceivedAsync(login, "/a/orders");
        var response = await ExchangeAsync(_fx.A, subject, "svc-b");
        var body = await OkAsync(response);
        Assert.True(response.Headers.CacheControl?.NoStore, "no-store");
        Assert.Equal(JwtType, body.IssuedTokenType);
        Assert.Equal("N_A", body.TokenType);

        var token = body.AccessToken;
        var (header, payload, _) = TokenForge.Split(token);
        var (_, before, _) = TokenForge.Split(subject);
        Assert.Equal("internal+jwt", header["typ"]!.GetValue<string>());
        Assert.Equal("svc-b", payload["aud"]!.GetValue<string>());
        Assert.Equal("sessiongate", payload["iss"]!.GetValue<string>());
        foreach (var claim in new[] { "sub", "sid", "tenant_id", "tenant", "roles", "permissions" })
            Assert.Equal(before[claim]!.ToJsonString(), payload[claim]!.ToJsonString());
        Assert.Equal("""{"sub":"svc-a"}""", payload["act"]!.ToJsonString());
        Assert.NotEqual(before["jti"]!.GetValue<string>(), payload["jti"]!.GetValue<string>());
        Assert.True(payload["exp"]!.GetValue<long>() <= before["exp"]!.GetValue<long>());
        Assert.InRange(body.ExpiresIn, 1, payload["exp"]!.GetValue<long>() - payload["iat"]!.GetValue<long>());

        // Service B (stock JwtBearer, audience svc-b) takes the new token, and refuses the one addressed to A.
        Assert.Equal(HttpStatusCode.OK, await ServiceBAsync(token));
        Assert.Equal(HttpStatusCode.Unauthorized, await ServiceBAsync(subject));

        var audit = await (await Api.GetAsync($"/admin/audit?type=token.exchanged&user_id={user.Id}", await _fx.AliceAsync())).ReadAsync<Paged<AuditEntry>>();
        var detail = Assert.Single(audit.Items).Detail!.Value.As<ExchangeAudit>();
        Assert.Equal(("svc-a", "svc-b", "svc-a"), (detail.ClientId, detail.Audience, detail.SubjectAudience));
        Assert.Equal(payload["jti"]!.GetValue<string>(), detail.Jti);
        Assert.Equal(before["jti"]!.GetValue<string>(), detail.SubjectJti);
        Assert.Equal(before["sid"]!.GetValue<string>(), detail.SessionId.ToString());
        Assert.Equal(["svc-a"], detail.Act);
    }

    [Fact]
    public async Task Along_a_to_b_to_c_act_nests_and_the_trace_and_expiry_carry_over()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToHexString();
        var subject = await ReceivedAsync(login, "/a/strict/pay", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom().ToHexString()}-01");
        var forB = (await OkAsync(await ExchangeAsync(_fx.A, subject, "svc-b"))).AccessToken;
        var forC = (await OkAsync(await ExchangeAsync(_fx.B, forB, "svc-c"))).AccessToken;
        var (_, c, _) = TokenForge.Split(forC);
        Assert.Equal("svc-c", c["aud"]!.GetValue<string>());
        Assert.Equal("""{"sub":"svc-b","act":{"sub":"svc-a"}}""", c["act"]!.ToJsonString());
        Assert.Equal(traceId, c["trace_id"]!.GetValue<string>());
        // A per-request subject lives at most 60 s, and nothing downstream of it outlives it.
        Assert.True(c["exp"]!.GetValue<long>() <= TokenForge.Split(subject).Payload["exp"]!.GetValue<long>());

        // B cannot exchange A's token (its aud is svc-a), nor can A exchange B's.
        await ErrorAsync(await ExchangeAsync(_fx.B, subject, "svc-c"), HttpStatusCode.BadRequest, "invalid_grant");
        await ErrorAsync(await ExchangeAsync(_fx.A, forB, "svc-b"), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task A_session_that_ended_gets_invalid_grant()
    {
        var user = await _fx.NewUserAsync();
        var loggedOut = await Api.LoginAsync(user);
        var kicked = await Api.LoginAsync(user);
        var fromLoggedOut = await ReceivedAsync(loggedOut, "/a");
        var fromKicked = await ReceivedAsync(kicked, "/a");
        await OkAsync(await ExchangeAsync(_fx.A, fromLoggedOut, "svc-b"));

        await Api.SendAsync(HttpMethod.Post, "/auth/logout", loggedOut);
        await ErrorAsync(await ExchangeAsync(_fx.A, fromLoggedOut, "svc-b"), HttpStatusCode.BadRequest, "invalid_grant");
        await OkAsync(await ExchangeAsync(_fx.A, fromKicked, "svc-b"));
        var sid = (await Api.MeAsync(kicked)).Session.Id;
        await Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{sid}", await _fx.AliceAsync());
        await ErrorAsync(await ExchangeAsync(_fx.A, fromKicked, "svc-b"), HttpStatusCode.BadRequest, "invalid_grant");

        var banned = await Api.LoginAsync(user);
        var fromBanned = await ReceivedAsync(banned, "/a");
        await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", await _fx.AliceAsync(), new { reason = "exchange" });
        await ErrorAsync(await ExchangeAsync(_fx.A, fromBanned, "svc-b"), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Expired_forged_and_foreign_subject_tokens_get_invalid_grant()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var subject = await ReceivedAsync(login, "/a");
        var (h, p, s) = TokenForge.Split(subject);

        // One we signed, for the right audience, but past its exp (the validator's clock skew does not help).
        var tokens = _fx.Factory.Services.GetRequiredService<TokenService>();
        var claims = p.Where(kv => kv.Key is not ("iss" or "aud" or "exp" or "iat" or "nbf"))
            .ToDictionary(kv => kv.Key, kv => (object)JsonSerializer.Deserialize<JsonElement>(kv.Value!.ToJsonString()));
        var now = DateTimeOffset.UtcNow;
        var expired = await tokens.CreateInternalTokenAsync(claims, "svc-a", now.AddMinutes(-6), now.AddSeconds(-5), default);
        await ErrorAsync(await ExchangeAsync(_fx.A, expired, "svc-b"), HttpStatusCode.BadRequest, "invalid_grant");

        var widened = TokenForge.Clone(p);
        widened["roles"] = new JsonArray("admin");
        var none = TokenForge.Clone(h);
        none["alg"] = "none";
        foreach (var forged in new[]
                 {
                     TokenForge.Unsigned(h, widened, s),                     // claims changed under a real signature
                     TokenForge.Unsigned(none, p),                           // alg none
                     TokenForge.SignWithOwnKey(TokenForge.Clone(h), p),      // our kid, someone else's key
                     TokenForge.SignWithOwnKey(TokenForge.Clone(h), p, embedJwk: true),
                     await ReceivedAsync(login, "/b"),                       // ours, but addressed to B
                     "not-a-jwt",
                 })
            await ErrorAsync(await ExchangeAsync(_fx.A, forged, "svc-b"), HttpStatusCode.BadRequest, "invalid_grant");
        if (TMode.HasRefreshTokens) // the bearer is an access JWT there, and an access token is not an internal token
            await ErrorAsync(await ExchangeAsync(_fx.A, login.Bearer, "svc-b"), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Clients_authenticate_and_ask_only_for_what_they_may()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var subject = await ReceivedAsync(login, "/a");
        await ErrorAsync(await ExchangeAsync(null, subject, "svc-b"), HttpStatusCode.Unauthorized, "invalid_client");
        await ErrorAsync(await ExchangeAsync(_fx.A, subject, "svc-b", secret: _fx.B.Secret), HttpStatusCode.Unauthorized, "invalid_client");
        await ErrorAsync(await ExchangeAsync(_fx.A with { Id = "nobody" }, subject, "svc-b"), HttpStatusCode.Unauthorized, "invalid_client");

        await ErrorAsync(await ExchangeAsync(_fx.A, subject, "svc-c"), HttpStatusCode.BadRequest, "invalid_target");
        await ErrorAsync(await ExchangeAsync(_fx.A, subject, "svc-b", f => f["resource"] = "https://b.example"), HttpStatusCode.BadRequest, "invalid_target");
        await ErrorAsync(await ExchangeAsync(_fx.Idle, subject, "svc-b"), HttpStatusCode.BadRequest, "unauthorized_client");
        await ErrorAsync(await ExchangeAsync(_fx.A, subject, "svc-b", f => f["grant_type"] = "client_credentials"), HttpStatusCode.BadRequest, "unsupported_grant_type");
        await ErrorAsync(await ExchangeAsync(_fx.A, subject, "svc-b", f => f.Remove("subject_token")), HttpStatusCode.BadRequest, "invalid_request");
        await ErrorAsync(await ExchangeAsync(_fx.A, subject, "svc-b", f => f["subject_token_type"] = "urn:ietf:params:oauth:token-type:access_token"),
            HttpStatusCode.BadRequest, "invalid_request");
        await ErrorAsync(await ExchangeAsync(_fx.A, subject, "svc-b", f => f.Remove("audience")), HttpStatusCode.BadRequest, "invalid_request");

        // A refused exchange of an authenticated client is audited too (for the user it named).
        var audit = await (await Api.GetAsync("/admin/audit?type=token.exchange-refused", await _fx.PlatformAdminAsync())).ReadAsync<Paged<AuditEntry>>();
        Assert.NotEmpty(audit.Items);
        Assert.All(audit.Items, e => e.Detail!.Value.As<ExchangeRefusedAudit>());
    }

    [Fact]
    public async Task Service_clients_are_for_the_platform_admin_with_the_secret_shown_once_rotated_and_deleted()
    {
        var admin = await _fx.PlatformAdminAsync();
        var id = "svc-" + Guid.NewGuid().ToString("N")[..8];
        var client = await _fx.CreateClientAsync(id, id + ".example/api", ["svc-b"]);
        Assert.StartsWith("sgcs_", client.Secret, StringComparison.Ordinal);

        // Listed without its secret: the shape has no member for one, and the text does not hold it.
        var list = await Api.GetAsync("/admin/service-clients", admin);
        var listed = (await list.ReadAsync<ServiceClient[]>()).Single(c => c.ClientId == id);
        Assert.Equal(["svc-b"], listed.MayCall);
        Assert.DoesNotContain(client.Secret, await list.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/service-clients", admin, new { client_id = id, audience = "other", may_call = Array.Empty<string>() }),
            HttpStatusCode.Conflict, Problems.Conflict);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/service-clients", admin, new { client_id = id + "x", audience = "svc-a", may_call = Array.Empty<string>() }),
            HttpStatusCode.Conflict, Problems.Conflict);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/service-clients", admin, new { client_id = "Bad Id", audience = "x" }),
            HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/service-clients", admin, new { client_id = "ok", audience = "x", extra = 1 }),
            HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/admin/service-clients", await _fx.AliceAsync(), new { client_id = "t", audience = "t" }),
            HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await Api.GetAsync("/admin/service-clients", await _fx.AliceAsync()), HttpStatusCode.Forbidden, Problems.Forbidden);

        // Rotation: the old secret stops at once (invalid_client), the new one authenticates (the junk subject is then the problem).
        var rotated = await Api.SendAsync(HttpMethod.Post, $"/admin/service-clients/{id}/secret", admin);
        var secret = (await rotated.ReadAsync<ServiceClientSecret>()).ClientSecret;
        Assert.NotEqual(client.Secret, secret);
        await ErrorAsync(await ExchangeAsync(client, "junk", "svc-b"), HttpStatusCode.Unauthorized, "invalid_client");
        await ErrorAsync(await ExchangeAsync(client, "junk", "svc-b", secret: secret), HttpStatusCode.BadRequest, "invalid_grant");

        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, $"/admin/service-clients/{id}", admin)).StatusCode);
        await ErrorAsync(await ExchangeAsync(client, "junk", "svc-b", secret: secret), HttpStatusCode.Unauthorized, "invalid_client");
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/admin/service-clients/{id}", admin), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/service-clients/{id}/secret", admin), HttpStatusCode.NotFound, Problems.NotFound);

        var answer = await Api.GetAsync("/admin/audit?type=service-client.secret-rotated", admin);
        Assert.Contains((await answer.ReadAsync<Paged<AuditEntry>>()).Items, e => e.Detail!.Value.As<ClientAudit>().ClientId == id);
        Assert.DoesNotContain(secret, await answer.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
