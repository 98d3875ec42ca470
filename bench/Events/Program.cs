using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

// Session events, measured against a running SessionGate (bench/events.sh starts one):
//   1. the hot path (GET /api/profile) and login throughput with 3 webhook endpoints registered vs none,
//      interleaved over several rounds (the order flips each round), reported as ratios;
//   2. from a logout's commit to the receiver (p50, p99), while the hot path is under load.
// The receiver is this process (Kestrel on loopback), so SessionGate needs Webhooks__AllowPrivateNetworks=true.
var opt = Args.Parse(args);
var inv = CultureInfo.InvariantCulture;

var arrivals = new ConcurrentQueue<(string Path, DateTimeOffset At, string Body)>();
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseUrls("http://127.0.0.1:0");
var receiver = builder.Build();
receiver.MapPost("/{hook}", async (HttpContext http, string hook) =>
{
    using var reader = new StreamReader(http.Request.Body);
    arrivals.Enqueue(("/" + hook, DateTimeOffset.UtcNow, await reader.ReadToEndAsync()));
    return Results.NoContent();
});
await receiver.StartAsync();
var receiverUrl = receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1024, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
{
    BaseAddress = new Uri(opt.App),
    Timeout = TimeSpan.FromSeconds(60),
};

async Task<string> LoginAsync(string user, string? password = null)
{
    HttpResponseMessage r;
    // A busy machine queues PBKDF2 past its wait: the app answers 503 with Retry-After, and a client tries again.
    for (var attempt = 0; (r = await http.PostAsJsonAsync("/auth/login", new { tenant = "acme", username = user, password = password ?? opt.Password })).StatusCode
         == System.Net.HttpStatusCode.ServiceUnavailable && attempt < 20; attempt++)
        await Task.Delay(500);
    r.EnsureSuccessStatusCode();
    var json = await r.Content.ReadFromJsonAsync<JsonElement>();
    return (json.TryGetProperty("session_id", out var s) ? s : json.GetProperty("access_token")).GetString()!;
}

HttpRequestMessage With(HttpMethod method, string url, string bearer, object? body = null)
{
    var m = new HttpRequestMessage(method, url) { Content = body is null ? null : JsonContent.Create(body) };
    m.Headers.TryAddWithoutValidation("Authorization", "Bearer " + bearer);
    return m;
}

var admin = await LoginAsync("alice");
async Task SetEndpointsAsync(int count)
{
    var list = await (await http.SendAsync(With(HttpMethod.Get, "/admin/webhooks", admin))).Content.ReadFromJsonAsync<JsonElement>();
    foreach (var w in list.EnumerateArray())
        (await http.SendAsync(With(HttpMethod.Delete, $"/admin/webhooks/{w.GetProperty("id").GetString()}", admin))).EnsureSuccessStatusCode();
    for (var i = 1; i <= count; i++)
    {
        var r = await http.SendAsync(With(HttpMethod.Post, "/admin/webhooks", admin, new { url = $"{receiverUrl}/b{i}" }));
        if (!r.IsSuccessStatusCode) throw new InvalidOperationException($"register: {(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}");
    }
}

var credentials = new List<string>();
for (var i = 0; i < opt.Concurrency; i++) credentials.Add(await LoginAsync("bob"));

async Task<double> RateAsync(Func<int, Task<bool>> call, int workers, TimeSpan duration, CancellationToken ct = default)
{
    var ok = 0L;
    var stop = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, workers).Select(async w =>
    {
        var n = 0;
        while (stop.Elapsed < duration && !ct.IsCancellationRequested)
        {
            if (await call(w + n++ * workers)) Interlocked.Increment(ref ok);
        }
    }));
    return ok / stop.Elapsed.TotalSeconds;
}

Task<double> HotPathAsync(TimeSpan d) => RateAsync(async i =>
{
    using var r = await http.SendAsync(With(HttpMethod.Get, "/api/profile", credentials[i % credentials.Count]));
    return r.IsSuccessStatusCode;
}, opt.Concurrency, d);

Task<double> LoginsAsync(TimeSpan d) => RateAsync(async _ =>
{
    using var r = await http.PostAsJsonAsync("/auth/login", new { tenant = "acme", username = "bob", password = opt.Password });
    return r.IsSuccessStatusCode;
}, opt.LoginConcurrency, d);

// Warm-up, then interleaved rounds.
await SetEndpointsAsync(0);
await HotPathAsync(opt.Warmup);
await LoginsAsync(opt.Warmup);
var results = new Dictionary<(int Endpoints, string What), List<double>>();
for (var round = 1; round <= opt.Rounds; round++)
{
    foreach (var endpoints in round % 2 == 1 ? new[] { 0, 3 } : [3, 0])
    {
        await SetEndpointsAsync(endpoints);
        var hot = await HotPathAsync(opt.Duration);
        var logins = await LoginsAsync(opt.Duration);
        Bucket(results, (endpoints, "hot")).Add(hot);
        Bucket(results, (endpoints, "login")).Add(logins);
        Console.WriteLine($"round {round}, {endpoints} endpoints: GET /api/profile {hot:F0} req/s, logins {logins:F1}/s");
    }
}

// Latency: logouts one after another while the hot path is loaded; the event's timestamp is taken inside the
// logout's transaction (just before its commit), so arrival minus timestamp bounds commit-to-receiver from above.
// Spread over users: a user's events go out one at a time (in order), so one user's stream is not the measure.
await SetEndpointsAsync(3);
const string BenchPassword = "events-bench-password-1";
var users = new List<string>();
for (var u = 0; u < opt.LatencyUsers; u++)
{
    var name = $"events-bench-{u}";
    using var created = await http.SendAsync(With(HttpMethod.Post, "/admin/users", admin, new { username = name, password = BenchPassword, roles = Array.Empty<string>() }));
    if (!created.IsSuccessStatusCode && created.StatusCode != System.Net.HttpStatusCode.Conflict)
        throw new InvalidOperationException($"create user: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
    users.Add(name);
}
var sessions = new List<string>();
for (var i = 0; i < opt.LatencyCount; i++) sessions.Add(await LoginAsync(users[i % users.Count], BenchPassword));
await Task.Delay(1000);
arrivals.Clear();
using var loadStop = new CancellationTokenSource();
var load = RateAsync(async i =>
{
    using var r = await http.SendAsync(With(HttpMethod.Get, "/api/profile", credentials[i % credentials.Count]));
    return r.IsSuccessStatusCode;
}, opt.Concurrency, TimeSpan.FromHours(1), loadStop.Token);
foreach (var s in sessions)
{
    using var r = await http.SendAsync(With(HttpMethod.Post, "/auth/logout", s));
    await Task.Delay(opt.LatencyGap);
}
var deadline = DateTimeOffset.UtcNow.AddSeconds(30);
List<double> lags;
while (true)
{
    lags = [.. arrivals.Where(a => a.Path == "/b1").Select(a => (a.At, Json: JsonDocument.Parse(a.Body).RootElement))
        .Where(a => a.Json.GetProperty("type").GetString() == "session.ended" && a.Json.GetProperty("data").GetProperty("reason").GetString() == "logged-out")
        .Select(a => (a.At - a.Json.GetProperty("timestamp").GetDateTimeOffset()).TotalMilliseconds)];
    if (lags.Count >= sessions.Count || DateTimeOffset.UtcNow > deadline) break;
    await Task.Delay(100);
}
loadStop.Cancel();
var loadRate = await load;
lags.Sort();
double Pct(double p) => lags.Count == 0 ? double.NaN : lags[Math.Min(lags.Count - 1, (int)Math.Ceiling(p * lags.Count) - 1)];

static double Median(List<double> v) { var s = v.Order().ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
var hot0 = Median(results[(0, "hot")]);
var hot3 = Median(results[(3, "hot")]);
var login0 = Median(results[(0, "login")]);
var login3 = Median(results[(3, "login")]);
var lines = new List<string>
{
    $"| measure | none | 3 endpoints | ratio |",
    $"|---|---|---|---|",
    $"| GET /api/profile, {opt.Concurrency} connections (median of {opt.Rounds} rounds) | {hot0.ToString("F0", inv)} req/s | {hot3.ToString("F0", inv)} req/s | **{(hot3 / hot0).ToString("F3", inv)}** |",
    $"| POST /auth/login, {opt.LoginConcurrency} at a time (median of {opt.Rounds} rounds) | {login0.ToString("F1", inv)}/s | {login3.ToString("F1", inv)}/s | **{(login3 / login0).ToString("F3", inv)}** |",
    "",
    $"| logout → receiver: {sessions.Count} logouts of {users.Count} users, {opt.LatencyGap.TotalMilliseconds:0} ms apart, under GET /api/profile load ({opt.Concurrency} connections, {loadRate.ToString("F0", inv)} req/s), 3 endpoints | p50 | p99 | max | received |",
    $"|---|---|---|---|---|",
    $"| event timestamp (in the logout's transaction) to the receiver | **{Pct(0.5).ToString("F1", inv)} ms** | **{Pct(0.99).ToString("F1", inv)} ms** | {(lags.Count > 0 ? lags[^1] : double.NaN).ToString("F1", inv)} ms | {lags.Count}/{sessions.Count} |",
};
foreach (var l in lines) Console.WriteLine(l);
if (opt.Out is not null) await File.WriteAllLinesAsync(opt.Out, lines);
await SetEndpointsAsync(0);
await receiver.StopAsync();
return lags.Count == sessions.Count ? 0 : 1;

static List<double> Bucket(Dictionary<(int, string), List<double>> d, (int, string) key)
{
    if (!d.TryGetValue(key, out var list)) d[key] = list = [];
    return list;
}

internal sealed record Args(string App, string Password, TimeSpan Duration, TimeSpan Warmup, int Rounds, int Concurrency, int LoginConcurrency,
    int LatencyCount, int LatencyUsers, TimeSpan LatencyGap, string? Out)
{
    public static Args Parse(string[] a)
    {
        string Get(string name, string fallback) => Array.IndexOf(a, "--" + name) is var i and >= 0 && i + 1 < a.Length ? a[i + 1] : fallback;
        var inv = CultureInfo.InvariantCulture;
        return new Args(Get("app", "http://127.0.0.1:8080"), Get("password", "demo-password-123"),
            TimeSpan.FromSeconds(double.Parse(Get("duration", "5"), inv)), TimeSpan.FromSeconds(double.Parse(Get("warmup", "2"), inv)),
            int.Parse(Get("rounds", "3"), inv), int.Parse(Get("concurrency", "32"), inv), int.Parse(Get("login-concurrency", "4"), inv),
            int.Parse(Get("latency-count", "200"), inv), int.Parse(Get("latency-users", "20"), inv), TimeSpan.FromMilliseconds(double.Parse(Get("latency-gap-ms", "20"), inv)),
            a.Contains("--out") ? Get("out", "") : null);
    }
}
