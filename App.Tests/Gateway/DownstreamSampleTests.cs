using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SessionGate.Downstream;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Tokens;
using SessionGate.Tokens;
using Xunit.Abstractions;

namespace SessionGate.Tests.Gateway;

/// <summary>
/// The sample downstream's own rules, which decide how far a revocation reaches it: token life, the cache's bound,
/// a key leaving the JWKS. Its own database, since one test revokes the signing key.
/// </summary>
public sealed class DownstreamSampleFixture : AppFixture<Opaque>
{
    private WebApplication? _downstream;

    public string DownstreamUrl { get; private set; } = "";
    public IServiceProvider DownstreamServices => _downstream!.Services;

    protected override void Configure(IDictionary<string, string?> s)
    {
        s["ForwardAuth:Rules:all:PathPrefix"] = "/";
        s["ForwardAuth:Rules:all:Metadata:InternalJwtAudience"] = "demo-api";
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _downstream = DownstreamApp.Build(["--urls", "http://127.0.0.1:0", "--Downstream:Authority", "http://localhost", "--Logging:LogLevel:Default", "Warning"],
            o =>
            {
                o.BackchannelHttpHandler = Factory.Server.CreateHandler();
                o.RefreshInterval = TimeSpan.FromSeconds(1);
            });
        await _downstream.StartAsync();
        DownstreamUrl = _downstream.Urls.Single().TrimEnd('/');
    }

    public override async Task DisposeAsync()
    {
        if (_downstream is not null) await _downstream.DisposeAsync();
        await base.DisposeAsync();
    }
}

public sealed class DownstreamSampleTests : IClassFixture<DownstreamSampleFixture>
{
    private readonly DownstreamSampleFixture _fx;
    private static readonly HttpClient Http = new();

    public DownstreamSampleTests(DownstreamSampleFixture fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    private async Task<string> ReceivedAsync()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var response = await _fx.Api.SendAsync(HttpMethod.Get, "/auth/verify", login, configure: r => r.Headers.Add("X-Forwarded-Uri", "/claims"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response.Headers.GetValues("X-Internal-JWT").Single();
    }

    private async Task<HttpResponseMessage> DirectAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _fx.DownstreamUrl + "/claims");
        request.Headers.Add("X-Internal-JWT", token);
        return await Http.SendAsync(request);
    }

    /// <summary>Signs <paramref name="payload"/> with SessionGate's own current key, as if SessionGate (or a thief of the key) had minted it.</summary>
    private async Task<string> SignWithOurKeyAsync(Dictionary<string, object> payload)
    {
        var set = await _fx.Factory.Services.GetRequiredService<KeyRing>().GetAsync();
        var handler = new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false };
        return handler.CreateToken(new SecurityTokenDescriptor { Claims = payload, SigningCredentials = set.Signing, TokenType = "internal+jwt" });
    }

    [Fact]
    public async Task A_token_that_lives_longer_than_five_minutes_or_has_no_iat_is_refused_though_our_key_signed_it()
    {
        var genuine = await ReceivedAsync();
        Assert.Equal(HttpStatusCode.OK, (await DirectAsync(genuine)).StatusCode);
        var claims = TokenForge.Split(genuine).Payload;
        Dictionary<string, object> Payload(long? iat, long exp)
        {
            var p = claims.ToDictionary(kv => kv.Key, kv => (object)JsonSerializer.Deserialize<JsonElement>(kv.Value!.ToJsonString()));
            p["jti"] = Guid.NewGuid().ToString("N");
            p["exp"] = exp;
            p["nbf"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 5;
            if (iat is { } i) p["iat"] = i;
            else p.Remove("iat");
            return p;
        }
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        // A leaked key and an exp ten years out: refused outright, and so is any life over 5 minutes.
        var tenYears = await DirectAsync(await SignWithOurKeyAsync(Payload(now, now + 10 * 365 * 24 * 3600)));
        Assert.Equal(HttpStatusCode.Unauthorized, tenYears.StatusCode);
        Assert.Equal("Bearer", tenYears.Headers.WwwAuthenticate.ToString()); // no error details
        Assert.Equal(HttpStatusCode.Unauthorized, (await DirectAsync(await SignWithOurKeyAsync(Payload(now, now + 301 + 30)))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await DirectAsync(await SignWithOurKeyAsync(Payload(null, now + 60)))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await DirectAsync(await SignWithOurKeyAsync(Payload(now + 600, now + 660)))).StatusCode); // iat ahead
        // The same signer within the rules is fine: it is the rules that refuse, not the key.
        Assert.Equal(HttpStatusCode.OK, (await DirectAsync(await SignWithOurKeyAsync(Payload(now, now + 240)))).StatusCode);
    }

    [Fact]
    public async Task A_cached_token_stops_being_accepted_once_the_downstream_rereads_a_jwks_without_its_key()
    {
        var before = await ReceivedAsync();
        Assert.Equal(HttpStatusCode.OK, (await DirectAsync(before)).StatusCode); // validated once, then cached
        Assert.Equal(HttpStatusCode.OK, (await DirectAsync(before)).StatusCode);
        var kid = TokenForge.Split(before).Header["kid"]!.GetValue<string>();

        var revoked = await _fx.Api.SendAsync(HttpMethod.Post, $"/admin/keys/{kid}/revoke", await _fx.PlatformAdminAsync());
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);

        // What the downstream does every JwksRefreshInterval (5 minutes), asked for now.
        var options = _fx.DownstreamServices.GetRequiredService<IOptionsMonitor<JwtBearerOptions>>().Get(JwtBearerDefaults.AuthenticationScheme);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await Task.Delay(TimeSpan.FromSeconds(1.1));
            options.ConfigurationManager!.RequestRefresh();
            var keys = (await options.ConfigurationManager.GetConfigurationAsync(default)).SigningKeys.Select(k => k.KeyId).ToList();
            if (!keys.Contains(kid)) break;
            Assert.True(DateTime.UtcNow < deadline, "the downstream never re-read the JWKS");
        }
        await Eventually.StatusAsync(() => DirectAsync(before), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(10));

        // Tokens signed with the new key verify.
        var after = await ReceivedAsync();
        Assert.NotEqual(kid, TokenForge.Split(after).Header["kid"]!.GetValue<string>());
        await Eventually.StatusAsync(() => DirectAsync(after), HttpStatusCode.OK, TimeSpan.FromSeconds(10));
    }
}
