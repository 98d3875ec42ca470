// The cost of a login with a second factor next to a password login: logins per second and the app's CPU per login
// (read from /proc/<pid>/stat), for a password login, a password + TOTP login and a passwordless passkey login, run in
// turn (interleaved rounds, reversed every other round) against one running SessionGate. Also GET /api/profile with an
// aal1 and an aal2 session, to show the hot path does not care. Only ratios within one run mean anything here.
//
//   LoginCost --url http://localhost:18190 --pid <app pid> [--seconds 8] [--rounds 3] [--concurrency 8] [--users 40]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OtpNet;
using SessionGate.Tests.Mfa;

var options = Args.Parse(args);
var http = new HttpClient(new SocketsHttpHandler { UseCookies = false }) { BaseAddress = new Uri(options.Url), Timeout = TimeSpan.FromSeconds(60) };
const string Tenant = "acme";
// WebAuthn's JSON forms are camelCase (App.Tests/Mfa/WebAuthnShapes.cs).
var webAuthnJson = new JsonSerializerOptions(JsonSerializerDefaults.Web);

Console.Error.WriteLine($"setting up {options.Users} users of each kind on {options.Url} (each costs password hashes)");
var alice = await LoginAsync("alice", "demo-password-123");
var password = new List<(string User, string Password)>();
var totp = new List<TotpUser>();
var passkeys = new SoftAuthenticator();
await Parallel.ForEachAsync(Enumerable.Range(0, options.Users * 3), new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (i, _) =>
{
    var (user, pw) = await NewUserAsync(alice);
    var login = await LoginAsync(user, pw);
    switch (i % 3)
    {
        case 0:
            lock (password) password.Add((user, pw));
            break;
        case 1:
            var secret = (await PostAsync("/auth/mfa/totp", login, new { })).GetProperty("secret").GetString()!;
            await PostAsync("/auth/mfa/totp/confirm", login, new { code = new Totp(Base32Encoding.ToBytes(secret)).ComputeTotp() });
            lock (totp) totp.Add(new TotpUser(user, pw, new Totp(Base32Encoding.ToBytes(secret))) { LastStep = CurrentStep() });
            break;
        default:
            var start = await PostAsync("/auth/passkeys/options", login, new { });
            JsonElement credential;
            lock (passkeys) credential = JsonSerializer.SerializeToElement(passkeys.Create(start.GetProperty("options").Deserialize<CreationOptions>(webAuthnJson)!, origin: options.Url));
            await PostAsync("/auth/passkeys", login, new { ceremony_id = start.GetProperty("ceremony_id").GetString(), credential }, HttpStatusCode.Created);
            break;
    }
});

var totpRefused = 0;
var aal1 = await LoginAsync(password[0].User, password[0].Password);
var aal2 = await TotpLoginAsync(totp[0]) ?? throw new InvalidOperationException("a TOTP login failed");

var scenarios = new (string Name, Func<int, Task<bool>> Login)[]
{
    ("password", async i => (await LoginRawAsync(password[i % password.Count].User, password[i % password.Count].Password)).StatusCode == HttpStatusCode.OK),
    ("password + TOTP", async i => await TotpLoginAsync(totp[i % totp.Count]) is not null),
    ("passkey (passwordless)", async _ => await PasskeyLoginAsync()),
};
var results = scenarios.ToDictionary(s => s.Name, _ => new List<(double PerSecond, double CpuMs)>());
foreach (var s in scenarios) await RunAsync(s.Login, TimeSpan.FromSeconds(2)); // warm-up
for (var round = 0; round < options.Rounds; round++)
{
    var order = round % 2 == 0 ? scenarios : scenarios.Reverse().ToArray();
    foreach (var s in order)
    {
        var r = await RunAsync(s.Login, TimeSpan.FromSeconds(options.Seconds));
        results[s.Name].Add(r);
        Console.Error.WriteLine($"round {round + 1}: {s.Name,-24} {r.PerSecond,8:F1} logins/s  {r.CpuMs,7:F1} ms app CPU per login");
    }
}

var profile = new Dictionary<string, List<double>> { ["aal1"] = [], ["aal2"] = [] };
for (var round = 0; round < options.Rounds; round++)
{
    foreach (var (name, token) in round % 2 == 0 ? new[] { ("aal1", aal1), ("aal2", aal2) } : [("aal2", aal2), ("aal1", aal1)])
        profile[name].Add((await RunAsync(_ => ProfileAsync(token), TimeSpan.FromSeconds(Math.Min(options.Seconds, 4)), 32)).PerSecond);
}

var baseline = Median(results["password"].Select(r => r.PerSecond));
Console.WriteLine($"| login | logins/s (median of {options.Rounds}) | vs password | app CPU per login (median) |");
Console.WriteLine("|---|---:|---:|---:|");
foreach (var (name, list) in results)
{
    var perSecond = Median(list.Select(r => r.PerSecond));
    Console.WriteLine($"| {name} | {perSecond:F1} | {perSecond / baseline:F2}× | {Median(list.Select(r => r.CpuMs)):F1} ms |");
}
var p1 = Median(profile["aal1"]);
var p2 = Median(profile["aal2"]);
Console.WriteLine($"| GET /api/profile, aal2 session vs aal1 | {p2:F0} vs {p1:F0} req/s | {p2 / p1:F2}× | |");
Console.WriteLine();
Console.WriteLine($"TOTP second steps refused (a code whose step had passed: it counts as a failed login, not a login): {totpRefused}");
return 0;

async Task<(double PerSecond, double CpuMs)> RunAsync(Func<int, Task<bool>> work, TimeSpan duration, int? concurrency = null)
{
    var ok = 0;
    var counter = -1;
    var cpuBefore = AppCpu();
    var watch = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, concurrency ?? options.Concurrency).Select(async _ =>
    {
        while (watch.Elapsed < duration)
        {
            if (await work(Interlocked.Increment(ref counter))) Interlocked.Increment(ref ok);
        }
    }));
    var seconds = watch.Elapsed.TotalSeconds;
    var cpu = AppCpu() - cpuBefore;
    return (ok / seconds, ok == 0 ? double.NaN : cpu.TotalMilliseconds / ok);
}

TimeSpan AppCpu()
{
    // utime and stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (USER_HZ, 100 on Linux).
    var stat = File.ReadAllText($"/proc/{options.Pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return TimeSpan.FromSeconds((long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0);
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

static long CurrentStep() => DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 30;

async Task<bool> ProfileAsync(string token)
{
    using var request = new HttpRequestMessage(HttpMethod.Get, "/api/profile");
    request.Headers.Authorization = new("Bearer", token);
    using var response = await http.SendAsync(request);
    return response.StatusCode == HttpStatusCode.OK;
}

// A user's codes are accepted once each, in increasing steps, one step either side of now: take the next one free.
async Task<string?> TotpLoginAsync(TotpUser user)
{
    long step;
    lock (user)
    {
        // Now or the next step (never the previous one: a slow password step could outlive it), once each.
        var now = CurrentStep();
        step = Math.Max(user.LastStep + 1, now);
        if (step > now + 1) return null; // this user's codes of this window are spent
        user.LastStep = step;
    }
    var first = await LoginRawAsync(user.User, user.Password);
    if (first.StatusCode != HttpStatusCode.Unauthorized) return null;
    var token = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("mfa_token").GetString();
    var code = user.Totp.ComputeTotp(DateTimeOffset.FromUnixTimeSeconds(step * 30 + 1).UtcDateTime);
    var second = await http.PostAsJsonAsync("/auth/login/mfa", new { mfa_token = token, code });
    if (second.StatusCode == HttpStatusCode.OK) return Credential(await second.Content.ReadFromJsonAsync<JsonElement>());
    Interlocked.Increment(ref totpRefused);
    return null;
}

async Task<bool> PasskeyLoginAsync()
{
    var start = await (await http.PostAsJsonAsync("/auth/passkeys/login/options", new { tenant = Tenant })).Content.ReadFromJsonAsync<JsonElement>();
    JsonElement credential;
    lock (passkeys)
    {
        var which = passkeys.Credentials[Random.Shared.Next(passkeys.Credentials.Count)];
        credential = JsonSerializer.SerializeToElement(passkeys.Get(start.GetProperty("options").Deserialize<RequestOptions>(webAuthnJson)!, which, origin: options.Url));
    }
    var response = await http.PostAsJsonAsync("/auth/passkeys/login", new { ceremony_id = start.GetProperty("ceremony_id").GetString(), credential });
    return response.StatusCode == HttpStatusCode.OK;
}

Task<HttpResponseMessage> LoginRawAsync(string user, string pw) =>
    http.PostAsJsonAsync("/auth/login", new { tenant = Tenant, username = user, password = pw });

async Task<string> LoginAsync(string user, string pw)
{
    var response = await LoginRawAsync(user, pw);
    if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"login {user}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    return Credential(await response.Content.ReadFromJsonAsync<JsonElement>());
}

static string Credential(JsonElement login) =>
    (login.TryGetProperty("session_id", out var sid) ? sid : login.GetProperty("access_token")).GetString()!;

async Task<(string User, string Password)> NewUserAsync(string admin)
{
    var user = "bench" + Guid.NewGuid().ToString("N")[..10];
    var pw = "pw-" + Guid.NewGuid().ToString("N");
    await PostAsync("/admin/users", admin, new { username = user, password = pw, roles = new[] { "user" } }, HttpStatusCode.Created);
    return (user, pw);
}

async Task<JsonElement> PostAsync(string path, string bearer, object body, HttpStatusCode expected = HttpStatusCode.OK)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
    request.Headers.Authorization = new("Bearer", bearer);
    using var response = await http.SendAsync(request);
    var text = await response.Content.ReadAsStringAsync();
    if (response.StatusCode != expected) throw new InvalidOperationException($"POST {path}: {(int)response.StatusCode} {text}");
    return JsonDocument.Parse(text).RootElement.Clone();
}

sealed record TotpUser(string User, string Password, Totp Totp)
{
    public long LastStep { get; set; }
}

sealed record Args(string Url, int Pid, int Seconds, int Rounds, int Concurrency, int Users)
{
    public static Args Parse(string[] args)
    {
        string Get(string name, string? fallback = null)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback ?? throw new ArgumentException($"--{name} is required");
        }
        return new Args(Get("url"), int.Parse(Get("pid")), int.Parse(Get("seconds", "8")), int.Parse(Get("rounds", "3")),
            int.Parse(Get("concurrency", "8")), int.Parse(Get("users", "40")));
    }
}
