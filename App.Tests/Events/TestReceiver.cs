using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Events;

/// <summary>
/// A real HTTP receiver on a loopback port (Kestrel), behind a <see cref="TcpProxy"/> so a test can take it down
/// (connection refused) and bring it back. It records every request and answers what <see cref="Answer"/> says for
/// its path (204 by default; 202 for CAEP pushes).
/// </summary>
public sealed class TestReceiver : IAsyncDisposable
{
    public sealed record Received(string Path, string Body, string? ContentType, string? Authorization, Dictionary<string, string> Headers, DateTimeOffset At)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();
    }

    private readonly WebApplication _app;

    private TestReceiver(WebApplication app, TcpProxy proxy)
    {
        _app = app;
        Proxy = proxy;
    }

    public ConcurrentQueue<Received> All { get; } = new();

    /// <summary>The status to answer per path (default 204, or 202 for a SET).</summary>
    public ConcurrentDictionary<string, int> Answer { get; } = new();

    public TcpProxy Proxy { get; }

    public string Url(string path) => $"http://127.0.0.1:{Proxy.Port}{path}";

    public static async Task<TestReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        TestReceiver? receiver = null;
        app.MapPost("/{**path}", async (HttpContext http) =>
        {
            using var reader = new StreamReader(http.Request.Body);
            var body = await reader.ReadToEndAsync();
            var path = http.Request.Path.Value ?? "/";
            receiver!.All.Enqueue(new Received(path, body, http.Request.ContentType, http.Request.Headers.Authorization.ToString(),
                http.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()), DateTimeOffset.UtcNow));
            var status = receiver.Answer.TryGetValue(path, out var s) ? s : http.Request.ContentType == "application/secevent+jwt" ? 202 : 204;
            http.Response.StatusCode = status;
            if (status >= 400) await http.Response.WriteAsync("receiver says no " + new string('x', 600));
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        receiver = new TestReceiver(app, new TcpProxy("127.0.0.1", port));
        return receiver;
    }

    public IEnumerable<Received> At(string path) => All.Where(r => r.Path == path);

    /// <summary>Waits until the requests to <paramref name="path"/> satisfy <paramref name="done"/>; fails after <paramref name="within"/>.</summary>
    public async Task<List<Received>> WaitAsync(string path, Func<List<Received>, bool> done, TimeSpan within, string what)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            var got = At(path).ToList();
            if (done(got)) return got;
            if (DateTimeOffset.UtcNow > deadline)
                Assert.Fail($"{what}: not within {within.TotalSeconds} s; got {got.Count}:\n" + string.Join("\n", got.Select(r => r.Body)));
            await Task.Delay(50);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Proxy.DisposeAsync();
        await _app.DisposeAsync();
    }
}
