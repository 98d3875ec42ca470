using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace SessionGate.Bench.Scale;

/// <summary>Timed HTTP requests against the app: one keep-alive connection, interleaved URLs, medians.</summary>
public static class HttpTiming
{
    public static HttpClient NewClient(string? baseUrl = null) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = 4,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        UseCookies = false,
        AllowAutoRedirect = false,
    })
    {
        BaseAddress = baseUrl is null ? null : new Uri(baseUrl.TrimEnd('/') + "/"),
        Timeout = TimeSpan.FromSeconds(60),
    };

    public static HttpRequestMessage Request(HttpMethod method, string url, string bearer)
    {
        var request = new HttpRequestMessage(method, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return request;
    }

    public static async Task<int> RunAsync(Args args)
    {
        var bearer = args.Required("bearer");
        var rounds = args.Int("rounds", 30);
        var warmup = args.Int("warmup", 3);
        var urls = args.All("url").Select(u =>
        {
            var eq = u.IndexOf('=');
            if (eq < 1) throw new UsageException($"--url wants LABEL=URL, got '{u}'");
            return (Label: u[..eq], Url: u[(eq + 1)..]);
        }).ToList();
        if (urls.Count == 0) throw new UsageException("at least one --url");

        using var http = NewClient();
        var times = urls.ToDictionary(u => u.Label, _ => new List<double>());
        var items = new Dictionary<string, int>();
        for (var i = 0; i < warmup; i++)
        {
            foreach (var (label, url) in urls) await GetAsync(http, url, bearer, label);
        }
        for (var r = 0; r < rounds; r++)
        {
            // Alternate the order, so no URL always runs first (or right after another).
            var order = r % 2 == 0 ? urls : Enumerable.Reverse(urls).ToList();
            foreach (var (label, url) in order)
            {
                var (ms, count) = await GetAsync(http, url, bearer, label);
                times[label].Add(ms);
                items[label] = count;
            }
        }
        foreach (var (label, _) in urls)
        {
            var t = times[label];
            Program.Emit($"{label}.median_ms", Stats.Ms(Stats.Median(t)));
            Program.Emit($"{label}.p90_ms", Stats.Ms(Stats.Percentile(t, 90)));
            Program.Emit($"{label}.min_ms", Stats.Ms(t.Min()));
            Program.Emit($"{label}.max_ms", Stats.Ms(t.Max()));
            Program.Emit($"{label}.n", t.Count);
            Program.Emit($"{label}.items", items.GetValueOrDefault(label, -1));
        }
        return 0;
    }

    private static async Task<(double Ms, int Items)> GetAsync(HttpClient http, string url, string bearer, string label)
    {
        using var request = Request(HttpMethod.Get, url, bearer);
        var watch = Stopwatch.StartNew();
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        var ms = watch.Elapsed.TotalMilliseconds;
        if (response.StatusCode != HttpStatusCode.OK)
            throw new BenchException($"{label}: GET {url} answered {(int)response.StatusCode}: {System.Text.Encoding.UTF8.GetString(body.AsSpan(0, Math.Min(300, body.Length)))}");
        var count = -1;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("items", out var list) && list.ValueKind == JsonValueKind.Array)
                count = list.GetArrayLength();
        }
        catch (JsonException)
        {
        }
        return (ms, count);
    }

    public static async Task<int> CreateUsersAsync(Args args)
    {
        var baseUrl = args.Required("base");
        var bearer = args.Required("bearer");
        var tenant = args.Required("tenant");
        var password = args.Required("password");
        var roles = args.String("roles", "user").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var names = args.Required("names").Split(',', StringSplitOptions.RemoveEmptyEntries);
        using var gate = new SemaphoreSlim(args.Int("parallel", 2));
        using var http = NewClient(baseUrl);
        var created = 0;
        var existed = 0;
        await Task.WhenAll(names.Select(async name =>
        {
            await gate.WaitAsync();
            try
            {
                for (var attempt = 1; ; attempt++)
                {
                    using var request = Request(HttpMethod.Post, $"admin/users?tenant={Uri.EscapeDataString(tenant)}", bearer);
                    request.Content = JsonContent.Create(new { username = name, password, roles });
                    using var response = await http.SendAsync(request);
                    if (response.StatusCode == HttpStatusCode.Created) Interlocked.Increment(ref created);
                    else if (response.StatusCode == HttpStatusCode.Conflict) Interlocked.Increment(ref existed);
                    // Hashing saturated (a busy shared machine): the app says try again shortly.
                    else if (response.StatusCode == HttpStatusCode.ServiceUnavailable && attempt < 10)
                    {
                        await Task.Delay(TimeSpan.FromSeconds(attempt));
                        continue;
                    }
                    else throw new BenchException($"POST /admin/users {name} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
                    break;
                }
            }
            finally
            {
                gate.Release();
            }
        }));
        Program.Emit("created", created);
        Program.Emit("existed", existed);
        return 0;
    }
}
