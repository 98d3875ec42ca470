using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SessionGate.Bench.Propagation;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (UsageException e)
        {
            if (e.IsHelp)
            {
                Console.Out.WriteLine(Options.Usage);
                return 0;
            }
            Console.Error.WriteLine($"ERROR: {e.Message}\n\n{Options.Usage}");
            return 2;
        }

        using var http = Api.NewClient();
        using var pollHttp = Api.NewClient();
        var runner = new Runner(options, new Api(http, options.A, options.Tenant), new Api(pollHttp, options.B, options.Tenant));
        try
        {
            Console.Out.Write(await runner.RunAsync());
            return 0;
        }
        catch (BenchException e)
        {
            Console.Error.WriteLine($"ERROR: {e.Message}");
            return 1;
        }
    }
}

/// <summary>
/// Revokes on A, watches B. Logins are slow on purpose (PBKDF2), so they happen in parallel batches before a
/// batch is measured, never while a revocation is being timed, and users are reused across iterations.
/// </summary>
public sealed class Runner(Options o, Api a, Api b)
{
    private const string ReporterRole = "reporter";
    private readonly string _run = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3));
    private readonly List<TestUser> _created = [];
    private readonly List<TestUser> _pool = [];
    private readonly List<(TestUser User, Credential Changer)> _passwordPool = [];
    private (TestUser User, Credential Credential)? _roleUser;
    private Credential _admin = null!;
    private long _adminRenewedAt;
    private long _killed;
    private int _cuts;

    public async Task<string> RunAsync()
    {
        _admin = await a.LoginAsync(o.Admin, o.AdminPassword);
        _adminRenewedAt = Stopwatch.GetTimestamp();
        Log($"A {o.A}, B {o.B}; credentials are {(_admin.Refresh is null ? "opaque session ids" : "access + refresh tokens")}; run id {_run}");
        var rows = new List<string>();
        try
        {
            await SetUpAsync();
            foreach (var (cut, count) in new[] { (false, o.Count), (true, o.EffectiveCutCount) })
            {
                if (count == 0) continue;
                _killed = 0;
                _cuts = 0;
                var passRows = new List<(string Kind, List<Sample> Samples)>();
                foreach (var kind in o.Kinds)
                {
                    var (samples, stopped) = await RunKindAsync(kind, count, cut);
                    passRows.Add((stopped ? $"{kind} (stopped: {o.GiveUp} in a row never refused)" : kind, samples));
                }
                var pass = cut ? $"cut ({(_cuts == 0 ? 0 : (double)_killed / _cuts):0.#} subscribers killed per cut)" : "normal";
                rows.AddRange(passRows.Select(r => Row(pass, r.Kind, r.Samples)));
            }
        }
        finally
        {
            await CleanUpAsync();
        }

        var table = new StringBuilder();
        table.AppendLine(CultureInfo.InvariantCulture,
            $"| mode | pass | kind | n | p50 ms | p95 ms | p99 ms | max ms | never refused (>{o.Timeout.TotalMilliseconds:0} ms) | B accepted after {o.Bound.TotalMilliseconds:0} ms | flaps | B errors | skipped | poll RTT ms |");
        table.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows) table.AppendLine(row);
        return table.ToString();
    }

    private string Row(string pass, string kind, List<Sample> all)
    {
        var valid = all.Where(s => s.Invalid is null).ToList();
        var never = valid.Count(s => s.LatencyMs is null);
        var rtt = valid.Count == 0 ? 0 : valid.Average(s => s.MeanPollMs);
        return string.Create(CultureInfo.InvariantCulture,
            $"| {o.Label} | {pass} | {kind} | {valid.Count} | {Stats.Percentile(valid, 50, o.Timeout)} | {Stats.Percentile(valid, 95, o.Timeout)} | " +
            $"{Stats.Percentile(valid, 99, o.Timeout)} | {Stats.Percentile(valid, 100, o.Timeout)} | {never} | {valid.Sum(s => s.AcceptedAfterBound)} | " +
            $"{valid.Sum(s => s.Flaps)} | {valid.Sum(s => s.Errors)} | {all.Count - valid.Count} | {rtt:0.00} |");
    }

    // ------------------------------------------------------------------------------------------------
    // Users
    // ------------------------------------------------------------------------------------------------

    private async Task SetUpAsync()
    {
        var needed = Math.Min(o.Pool, Math.Max(o.Count, o.EffectiveCutCount));
        var kinds = o.Kinds.ToHashSet();
        var general = kinds.Overlaps(["logout", "kick", "kick-all", "ban"]) ? needed : 0;
        var password = kinds.Contains("password") ? needed : 0;
        var roles = kinds.Contains("roles") ? 1 : 0;
        Log($"creating {general + password + roles} test users (reporter) in {o.Tenant}");
        var users = await ParallelAsync(Enumerable.Range(0, general + password + roles).ToList(), i => CreateUserAsync($"prop-{_run}-{i}"));
        _pool.AddRange(users.Take(general));
        var changers = await ParallelAsync(users.Skip(general).Take(password).ToList(), u => a.LoginAsync(u.Username, u.Password));
        _passwordPool.AddRange(users.Skip(general).Take(password).Zip(changers));
        if (roles == 1)
        {
            var user = users[^1];
            _roleUser = (user, await a.LoginAsync(user.Username, user.Password));
        }
    }

    private async Task<TestUser> CreateUserAsync(string username)
    {
        var password = NewPassword();
        var reply = await AdminAsync(HttpMethod.Post, "/admin/users", new { username, password, roles = new[] { ReporterRole } });
        if (reply.Status != 201 || reply.Body?["id"] is not { } id) throw new BenchException($"creating user {username} failed: {reply}");
        var user = new TestUser(Guid.Parse(id.GetValue<string>()), username, password);
        lock (_created)
        {
            _created.Add(user);
        }
        return user;
    }

    private async Task CleanUpAsync()
    {
        var failed = 0;
        foreach (var user in _created)
        {
            try
            {
                if (!(await AdminAsync(HttpMethod.Delete, $"/admin/users/{user.Id}")).Ok) failed++;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or BenchException)
            {
                failed++;
            }
        }
        Log(failed == 0 ? $"deleted the {_created.Count} test users" : $"could not delete {failed} of the {_created.Count} test users (prefix prop-{_run}-)");
        try
        {
            await a.SendAsync(HttpMethod.Post, "/auth/logout", _admin.Bearer);
        }
        catch (HttpRequestException)
        {
        }
    }

    // Random, 24 characters, never containing a username (usernames start with "prop-").
    private static string NewPassword() => "Pw" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(11));

    // ------------------------------------------------------------------------------------------------
    // Kinds
    // ------------------------------------------------------------------------------------------------

    private async Task<(List<Sample> Samples, bool Stopped)> RunKindAsync(string kind, int count, bool cut)
    {
        var started = Stopwatch.StartNew();
        var samples = new List<Sample>(count);
        // A B that never refuses would cost the full timeout per revocation: a few in a row tell enough.
        var neverInARow = 0;
        var stopped = false;
        bool Record(Sample sample)
        {
            samples.Add(sample);
            if (sample.Invalid is null) neverInARow = sample.LatencyMs is null ? neverInARow + 1 : 0;
            stopped = neverInARow >= o.GiveUp;
            return !stopped;
        }

        switch (kind)
        {
            case "roles":
                for (var i = 0; i < count; i++)
                {
                    if (!Record(await RolesOnceAsync(cut))) break;
                }
                break;
            case "password":
                for (var done = 0; done < count && !stopped;)
                {
                    var batch = _passwordPool.Take(Math.Min(_passwordPool.Count, count - done)).ToList();
                    await RenewAdminIfOldAsync();
                    foreach (var (user, changer) in batch) await EnsureAliveOnAAsync(changer, user);
                    var victims = await ParallelAsync(batch, p => a.LoginAsync(p.User.Username, p.User.Password));
                    for (var j = 0; j < batch.Count; j++)
                    {
                        var (user, changer) = batch[j];
                        var next = NewPassword();
                        var sample = await MeasureAsync(victims[j].Bearer, "/api/profile", roles: false, cut, async () =>
                        {
                            var reply = await a.SendAsync(HttpMethod.Post, "/auth/password", changer.Bearer,
                                new { current_password = user.Password, new_password = next });
                            if (reply.Ok) user.Password = next;
                            return reply;
                        });
                        if (!Record(sample)) break;
                    }
                    done += batch.Count;
                }
                break;
            default:
                for (var done = 0; done < count && !stopped;)
                {
                    var batch = _pool.Take(Math.Min(_pool.Count, count - done)).ToList();
                    await RenewAdminIfOldAsync();
                    var victims = await ParallelAsync(batch, async u =>
                    {
                        var credential = await a.LoginAsync(u.Username, u.Password);
                        Guid? session = null;
                        if (kind == "kick")
                        {
                            var me = await a.SendAsync(HttpMethod.Get, "/auth/me", credential.Bearer);
                            session = me.Body?["session"]?["id"] is { } sid ? Guid.Parse(sid.GetValue<string>())
                                : throw new BenchException($"GET /auth/me gave no session.id: {me}");
                        }
                        return (Credential: credential, Session: session);
                    });
                    for (var j = 0; j < batch.Count; j++)
                    {
                        var (user, (credential, session)) = (batch[j], victims[j]);
                        Func<Task<Reply>> revoke = kind switch
                        {
                            "logout" => () => a.SendAsync(HttpMethod.Post, "/auth/logout", credential.Bearer),
                            "kick" => () => AdminAsync(HttpMethod.Delete, $"/admin/sessions/{session}"),
                            "kick-all" => () => AdminAsync(HttpMethod.Post, $"/admin/users/{user.Id}/logout-all"),
                            "ban" => () => AdminAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", new { }),
                            _ => throw new BenchException($"unknown kind {kind}"),
                        };
                        var sample = await MeasureAsync(credential.Bearer, "/api/profile", roles: false, cut, revoke);
                        if (kind == "ban")
                        {
                            var unban = await AdminAsync(HttpMethod.Post, $"/admin/users/{user.Id}/unban");
                            if (!unban.Ok) throw new BenchException($"unban of {user.Username} failed: {unban}");
                        }
                        if (!Record(sample)) break;
                    }
                    done += batch.Count;
                }
                break;
        }
        var valid = samples.Where(s => s.Invalid is null).ToList();
        Log($"{(cut ? "cut" : "normal")} {kind}: {valid.Count} measured in {started.Elapsed.TotalSeconds:0}s; " +
            $"p50 {Stats.Percentile(valid, 50, o.Timeout)} ms, p99 {Stats.Percentile(valid, 99, o.Timeout)} ms, max {Stats.Percentile(valid, 100, o.Timeout)} ms" +
            (samples.Count > valid.Count ? $"; skipped {samples.Count - valid.Count}: {samples.First(s => s.Invalid is not null).Invalid}" : "") +
            (stopped ? $"; stopped after {o.GiveUp} revocations in a row that B never refused" : ""));
        if (valid.Count < samples.Count / 2) throw new BenchException($"{kind}: most revocations could not be measured (first reason: {samples.First(s => s.Invalid is not null).Invalid})");
        return (samples, stopped);
    }

    /// <summary>Role change: B must turn /api/reports from 200 to 403 (or 401 where a role change revokes the token).</summary>
    private async Task<Sample> RolesOnceAsync(bool cut)
    {
        var (user, credential) = _roleUser ?? throw new BenchException("no role user");
        await RenewAdminIfOldAsync();
        // The roles were restored after the previous iteration; wait (unmeasured) until B serves the user again.
        var deadline = Stopwatch.GetTimestamp() + 10 * Stopwatch.Frequency;
        while (true)
        {
            var status = await b.StatusAsync("/api/reports", credential.Bearer);
            if (status == 200) break;
            if (Stopwatch.GetTimestamp() > deadline) return Sample.Skipped($"B still answered {status} to /api/reports 10 s after the roles were restored");
            if (status == 401) await RenewAsync(credential, user.Username, user.Password);
            else await Task.Delay(10);
        }
        var sample = await MeasureAsync(credential.Bearer, "/api/reports", roles: true, cut,
            () => AdminAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", new { roles = Array.Empty<string>() }));
        var restore = await AdminAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", new { roles = new[] { ReporterRole } });
        if (!restore.Ok) throw new BenchException($"restoring the roles of {user.Username} failed: {restore}");
        return sample;
    }

    // ------------------------------------------------------------------------------------------------
    // One revocation
    // ------------------------------------------------------------------------------------------------

    private async Task<Sample> MeasureAsync(string bearer, string path, bool roles, bool cut, Func<Task<Reply>> revoke)
    {
        // Warm: B has served this credential once before it is revoked.
        var warm = await b.StatusAsync(path, bearer);
        if (warm != 200) return Sample.Skipped($"B answered {warm} to the warm-up request");

        var poller = new Poller(b, path, bearer, s => s == 401 || (roles && s == 403), o.Bound, o.Timeout);
        var polling = Task.Run(poller.RunAsync);
        await Task.WhenAny(poller.FirstReply, polling);
        if (polling.IsCompleted) return await polling;
        if (cut) await CutSubscriptionsAsync();

        poller.RevocationSent(Stopwatch.GetTimestamp());
        Reply reply;
        try
        {
            reply = await revoke();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            poller.Abort();
            await polling;
            return Sample.Skipped($"the revocation request failed: {e.Message}");
        }
        poller.RevocationAnswered(Stopwatch.GetTimestamp());
        if (!reply.Ok)
        {
            poller.Abort();
            await polling;
            return Sample.Skipped($"the revocation answered {reply}");
        }
        return await polling;
    }

    private async Task CutSubscriptionsAsync()
    {
        var start = new ProcessStartInfo(o.RedisCli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-h", o.RedisHost!, "-p", o.RedisPort.ToString(CultureInfo.InvariantCulture), "CLIENT", "KILL", "TYPE", "pubsub" })
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new BenchException($"could not start {o.RedisCli}");
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 || output.Contains("ERR", StringComparison.Ordinal))
            throw new BenchException($"{o.RedisCli} CLIENT KILL TYPE pubsub failed: {output}{error}");
        if (long.TryParse(output.Trim().Replace("(integer) ", "", StringComparison.Ordinal), CultureInfo.InvariantCulture, out var killed)) _killed += killed;
        _cuts++;
    }

    // ------------------------------------------------------------------------------------------------
    // Credentials
    // ------------------------------------------------------------------------------------------------

    private async Task<Reply> AdminAsync(HttpMethod method, string path, object? body = null)
    {
        var reply = await a.SendAsync(method, path, _admin.Bearer, body);
        if (reply.Status != 401) return reply;
        await RenewAsync(_admin, o.Admin, o.AdminPassword);
        _adminRenewedAt = Stopwatch.GetTimestamp();
        return await a.SendAsync(method, path, _admin.Bearer, body);
    }

    // Access tokens live 15 minutes; renew the admin's between batches so no timed revocation pays for it.
    private async Task RenewAdminIfOldAsync()
    {
        if (_admin.Refresh is null || Stopwatch.GetElapsedTime(_adminRenewedAt) < TimeSpan.FromMinutes(5)) return;
        await RenewAsync(_admin, o.Admin, o.AdminPassword);
        _adminRenewedAt = Stopwatch.GetTimestamp();
    }

    private async Task EnsureAliveOnAAsync(Credential credential, TestUser user)
    {
        var me = await a.SendAsync(HttpMethod.Get, "/auth/me", credential.Bearer);
        if (me.Status == 401) await RenewAsync(credential, user.Username, user.Password);
        else if (!me.Ok) throw new BenchException($"GET /auth/me for {user.Username} on A: {me}");
    }

    private async Task RenewAsync(Credential credential, string username, string password)
    {
        if (await a.RefreshAsync(credential)) return;
        var fresh = await a.LoginAsync(username, password);
        credential.Bearer = fresh.Bearer;
        credential.Refresh = fresh.Refresh;
    }

    private async Task<TOut[]> ParallelAsync<TIn, TOut>(IReadOnlyList<TIn> items, Func<TIn, Task<TOut>> work)
    {
        using var gate = new SemaphoreSlim(o.Parallel);
        return await Task.WhenAll(items.Select(async item =>
        {
            await gate.WaitAsync();
            try
            {
                return await work(item);
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    private static void Log(string message) => Console.Error.WriteLine($"    [propagation {DateTime.Now:HH:mm:ss}] {message}");
}
