using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Downstream;
using SessionGate.ServiceB;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Edge;

/// <summary>
/// The whole chain on real sockets: SessionGate on a Kestrel port (behind a TCP relay a test can cut), real nginx and
/// Caddy running docs/edge/'s configurations in front of the sample service A, and sample service B, which A calls
/// as the user through token exchange.
/// </summary>
public sealed class EdgeFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public const string AudienceA = "edge-a";
    public const string ClientA = "svc-edge-a";

    private WebApplication? _serviceA;
    private WebApplication? _serviceB;
    private int _hits;

    public string SessionGateUrl { get; private set; } = "";
    public TcpProxy Relay { get; private set; } = null!;
    public Dictionary<string, EdgeProxy> Edges { get; } = [];
    public Dictionary<string, string> Skipped { get; } = [];
    public string ServiceAUrl { get; private set; } = "";
    public int Hits => Volatile.Read(ref _hits);
    public string? LastInternalJwt { get; private set; }

    protected override void Configure(IDictionary<string, string?> s)
    {
        // The Host each edge sends to /auth/verify (README "Behind the edge you already run"): nginx the upstream's
        // name, Caddy the original request's.
        s["AllowedHosts"] = "localhost;127.0.0.1;[::1];sessiongate";
        void Rule(string name, string prefix)
        {
            s[$"ForwardAuth:Rules:{name}:PathPrefix"] = prefix;
            s[$"ForwardAuth:Rules:{name}:Metadata:InternalJwtAudience"] = AudienceA;
        }
        Rule("service-a", "/");
        Rule("strict", "/strict");
        s["ForwardAuth:Rules:strict:Metadata:InternalJwtPerRequest"] = "true";
        Rule("calls", "/call-b");
        s["ForwardAuth:Rules:calls:Metadata:InternalJwtPerRequest"] = "true";
        Rule("stepup", "/stepup");
        s["ForwardAuth:Rules:stepup:Metadata:RequiredAcr"] = "aal2";
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Factory.UseKestrel(0); // a port the kernel picks: never one another checkout holds
        Factory.StartServer();
        var address = Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        SessionGateUrl = address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)
            .Replace("localhost", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
        Factory.ClientOptions.BaseAddress = new Uri(SessionGateUrl);
        Relay = new TcpProxy("127.0.0.1", new Uri(SessionGateUrl).Port);

        var created = await Api.SendAsync(HttpMethod.Post, "/admin/service-clients", await PlatformAdminAsync(),
            new { client_id = ClientA, audience = AudienceA, may_call = new[] { "service-b" } });
        var secret = (await created.ReadAsync<TokenExchange.ServiceClientSecret>(HttpStatusCode.Created)).ClientSecret;

        _serviceB = ServiceBApp.Build(["--urls", "http://127.0.0.1:0", "--Downstream:Authority", SessionGateUrl, "--Logging:LogLevel:Default", "Warning"]);
        await _serviceB.StartAsync();
        _serviceA = DownstreamApp.Build(["--urls", "http://127.0.0.1:0", "--Downstream:Authority", SessionGateUrl, "--Downstream:Audience", AudienceA,
            "--Downstream:ServiceB:Url", _serviceB.Urls.Single(), "--Downstream:ClientId", ClientA, "--Downstream:ClientSecret", secret,
            "--Logging:LogLevel:Default", "Warning"]);
        _serviceA.Use(async (ctx, next) =>
        {
            Interlocked.Increment(ref _hits);
            if (ctx.Request.Headers["X-Internal-JWT"].Count == 1) LastInternalJwt = ctx.Request.Headers["X-Internal-JWT"][0];
            await next(ctx);
        });
        // What reached the service, raw: the edge must have replaced the client's credential and X-Internal-JWT.
        _serviceA.MapGet("/raw", (HttpContext ctx) => new
        {
            cookie = ctx.Request.Headers.Cookie.ToString(),
            authorization = ctx.Request.Headers.Authorization.ToString(),
            jwt = ctx.Request.Headers["X-Internal-JWT"].ToArray(),
        });
        _serviceA.MapGet("/strict/claims", (HttpContext http) => DownstreamApp.Echo(http)).RequireAuthorization();
        await _serviceA.StartAsync();
        ServiceAUrl = _serviceA.Urls.Single().TrimEnd('/');

        foreach (var name in new[] { "nginx", "caddy" })
        {
            if (EdgeProxy.Missing(name) is { } why) Skipped[name] = why;
            else Edges[name] = await EdgeProxy.StartAsync(name, Relay.Port, new Uri(ServiceAUrl).Port);
        }
    }

    public override async Task DisposeAsync()
    {
        foreach (var edge in Edges.Values) await edge.DisposeAsync();
        if (_serviceA is not null) await _serviceA.DisposeAsync();
        if (_serviceB is not null) await _serviceB.DisposeAsync();
        if (Relay is not null) await Relay.DisposeAsync();
        await base.DisposeAsync();
    }
}
