using System.Collections.Concurrent;

namespace SessionGate.Bench.FaultRig;

/// <summary>What one scenario run shares: the instances, the admin's credential, and the row being filled.</summary>
public sealed class Ctx
{
    public const string UserPassword = "Fault-rig-passw0rd";

    /// <summary>system/admin's password (Bootstrap__AdminPassword in scripts/faults.d/common.sh).</summary>
    public const string PlatformPassword = "platform-password-123";

    public required Options O { get; init; }
    public required Api A { get; init; }
    public required Api B { get; init; }
    public Api? N { get; init; }
    public required Credential Admin { get; init; }
    public required LoadGenerator Load { get; init; }
    public ScenarioResult R { get; set; } = null!;

    /// <summary>A and B, then N when there is one: every instance a credential is presented to.</summary>
    public IReadOnlyList<Api> Probes => N is null ? [A, B] : [A, B, N];

    /// <summary>Counts a scenario request (not the load) in the row; a 500 is noted with its body.</summary>
    public Reply Op(Reply reply, string what)
    {
        // Probers run beside the scenario's own requests.
        lock (R) R.Ops.Add(reply.Status);
        if (reply.Status == 500 || (reply.Status == 503 && !reply.IsProper503))
            R.Note($"{what} answered {reply.Short} (content-type {reply.ContentType}, Retry-After {reply.RetryAfter ?? "none"})");
        return reply;
    }

    /// <summary>Retries an operation while the app answers 503 or nothing (it is recovering), up to <paramref name="seconds"/>.</summary>
    public async Task<Reply> UntilAnsweredAsync(Func<Task<Reply>> send, string what, double seconds = 10)
    {
        var deadline = Rig.Now + seconds * 1000;
        var retries = 0;
        while (true)
        {
            var reply = Op(await send(), what);
            if (reply.Status is not (0 or 503) || Rig.Now > deadline)
            {
                if (retries > 0) R.Note($"{what}: {retries} × 503/no answer before {reply.Status}");
                return reply;
            }
            retries++;
            await Task.Delay(250);
        }
    }
}

public static partial class Scenarios
{
    private static string LoadUser(int i) => $"frload{i}";

    internal static async Task<Ctx> SetupAsync(Options o, ScenarioResult row, string[] extraUsers)
    {
        var http = Api.NewClient();
        var a = new Api(http, "A", o.A, "acme");
        var b = new Api(http, "B", o.B, "acme");
        var n = o.N is null ? null : new Api(http, "N", o.N, "acme");
        Rig.Log($"{o.Mode} / {o.Scenario}: setting up users and {o.Sessions} load sessions");
        var saved = LoadCredentials(o.Creds);
        async Task<Credential> ReuseOrLoginAsync(Api api, string username, string password, string label)
        {
            if (saved.TryGetValue(label, out var c))
            {
                for (var k = 0; k < 20; k++)
                {
                    var status = (await api.ProfileAsync(c)).Status;
                    if (status == 200) return c;
                    if (status is not (0 or 503)) break;
                    await Task.Delay(250);
                }
            }
            return await api.LoginAsync(username, password, label);
        }
        var admin = await ReuseOrLoginAsync(a, "alice", o.AdminPassword, "alice");
        var users = Enumerable.Range(1, o.Sessions).Select(LoadUser).Concat(extraUsers).ToList();
        foreach (var u in users) await a.EnsureUserAsync(admin, u, Ctx.UserPassword);
        var sessions = new Credential[o.Sessions];
        // Two logins at a time (PBKDF2 is deliberately slow, and the machine is small).
        await Parallel.ForEachAsync(Enumerable.Range(0, o.Sessions), new ParallelOptions { MaxDegreeOfParallelism = 2 }, async (i, _) =>
            sessions[i] = await ReuseOrLoginAsync(i % 2 == 0 ? a : b, LoadUser(i + 1), Ctx.UserPassword, $"load{i + 1}"));
        foreach (var s in sessions)
        {
            foreach (var api in new[] { a, b })
            {
                var ok = false;
                for (var k = 0; k < 40 && !ok; k++)
                {
                    ok = (await api.ProfileAsync(s)).Status == 200;
                    if (!ok) await Task.Delay(250);
                }
                if (!ok) throw new RigException($"load session {s.Label} is not accepted by instance {api.Name} before any fault");
            }
        }
        SaveCredentials(o.Creds, [admin, .. sessions]);
        return new Ctx { O = o, A = a, B = b, N = n, Admin = admin, Load = new LoadGenerator([a, b], sessions, o.Rate), R = row };
    }

    private sealed record SavedCredential(string Label, string Bearer, string? Refresh, Guid UserId, Guid SessionId);

    private static Dictionary<string, Credential> LoadCredentials(string? file)
    {
        if (file is null || !File.Exists(file)) return [];
        var list = System.Text.Json.JsonSerializer.Deserialize<List<SavedCredential>>(File.ReadAllText(file)) ?? [];
        return list.ToDictionary(c => c.Label, c => new Credential(c.Bearer, c.Refresh, c.Label) { UserId = c.UserId, SessionId = c.SessionId });
    }

    private static void SaveCredentials(string? file, IEnumerable<Credential> credentials)
    {
        if (file is null) return;
        File.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(
            credentials.Select(c => new SavedCredential(c.Label, c.Bearer, c.Refresh, c.UserId, c.SessionId)).ToList()));
    }

    internal static ScenarioResult Row(Options o, string scenario) => new() { Mode = o.Mode, Scenario = scenario };

    internal static void Fill(ScenarioResult r, LoadGenerator load, double from, double to)
    {
        var recs = load.Between(from, to);
        r.Load = Counts.Of(recs);
        var bad = recs.Count(x => !x.Proper503);
        r.Check("load: every 503 is problem+json service-unavailable with Retry-After", bad == 0, $"{bad} of {r.Load.S503} were not");
    }

    /// <summary>
    /// The outage shows in each instance's log once when it starts and once when it ends (DependencyHealth), not as a
    /// line per refused request: at most 2 starts (a flap at the edge), as many ends, and at most 5 ERR lines.
    /// </summary>
    private static void CheckOutageLogged(ScenarioResult r, Options o, string dependency)
    {
        if (o.Logs is null) return;
        var parts = new List<string>();
        var ok = true;
        foreach (var name in new[] { "A", "B", "N" })
        {
            var file = $"{o.Logs}-{name}.log";
            if (!File.Exists(file)) continue;
            var lines = File.ReadAllLines(file);
            var down = lines.Count(l => l.Contains($"{dependency} is unavailable", StringComparison.Ordinal));
            var up = lines.Count(l => l.Contains($"{dependency} is back", StringComparison.Ordinal));
            var errors = lines.Count(l => l.Contains(" ERR] ", StringComparison.Ordinal));
            parts.Add($"{name}: {down} down, {up} back, {errors} ERR lines");
            if (down is < 1 or > 2 || up != down || errors > 5) ok = false;
        }
        if (parts.Count > 0)
            r.Check($"{dependency} outage logged once at its start and once at its end per instance, not per request", ok, string.Join("; ", parts));
    }

    internal static string Latencies(IEnumerable<Rec> recs)
    {
        var ms = recs.Select(r => r.Ms).Order().ToList();
        if (ms.Count == 0) return "none";
        return $"p50 {ms[ms.Count / 2]:F0} ms, max {ms[^1]:F0} ms";
    }

    // ================================================================================================================
    // pg-down
    // ================================================================================================================

    public static async Task<List<ScenarioResult>> PgDownAsync(Options o)
    {
        var r = Row(o, "pg-down");
        const string opsUser = "frpgops", loginUser = "frpglogin";
        var ctx = await SetupAsync(o, r, [opsUser, loginUser]);
        var (a, b, admin, load) = (ctx.A, ctx.B, ctx.Admin, ctx.Load);
        var s1 = await a.LoginAsync(opsUser, Ctx.UserPassword, "s1");
        var s2 = await b.LoginAsync(opsUser, Ctx.UserPassword, "s2");

        load.Start();
        var t0 = Rig.Now;
        await Task.Delay(3000);

        var tStop = Rig.Now;
        await Rig.HookAsync("pg-stop");
        var tDown = Rig.Now;

        var improper = new List<string>();
        var outageOps = 0;
        var logins429 = 0;
        void Expect503(Reply reply, string what)
        {
            outageOps++;
            if (reply.Status == 429) logins429++;
            if (!reply.IsProper503) improper.Add($"{what} → {(reply.Status == 503 ? "503 without problem+json/Retry-After" : reply.Status.ToString())}");
        }
        async Task WaveAsync(int wave)
        {
            // More right-password logins than MaxFailuresPerAccountAndAddress (5): none may count as a failure.
            for (var k = 0; k < 4; k++)
            {
                var api = k % 2 == 0 ? a : b;
                Expect503(ctx.Op(await api.LoginRawAsync(loginUser, Ctx.UserPassword), "login during outage"), $"login (right password) on {api.Name}");
                Expect503(ctx.Op(await api.LoginRawAsync("admin", Ctx.PlatformPassword, "system"), "platform admin login during outage"), $"platform admin login on {api.Name}");
            }
            if (s1.Refresh is not null) Expect503(ctx.Op(await a.RefreshAsync(s1.Refresh), "refresh during outage"), "POST /auth/refresh");
            Expect503(ctx.Op(await b.SendAsync(HttpMethod.Post, "/auth/logout", s1.Bearer), "logout during outage"), "POST /auth/logout");
            Expect503(ctx.Op(await a.SendAsync(HttpMethod.Get, "/auth/sessions", s1.Bearer), "GET /auth/sessions during outage"), "GET /auth/sessions");
            Expect503(ctx.Op(await b.SendAsync(HttpMethod.Delete, $"/admin/sessions/{s2.SessionId}", admin.Bearer), "kick during outage"), "DELETE /admin/sessions/{id}");
            Expect503(ctx.Op(await a.SendAsync(HttpMethod.Post, "/admin/users", admin.Bearer,
                new { username = $"frpgnew{wave}", password = Ctx.UserPassword, roles = new[] { "user" } }), "create user during outage"), "POST /admin/users");
            Expect503(ctx.Op(await b.SendAsync(HttpMethod.Get, "/admin/users", admin.Bearer), "list users during outage"), "GET /admin/users");
            Expect503(ctx.Op(await a.SendAsync(HttpMethod.Get, "/admin/sessions", admin.Bearer), "list sessions during outage"), "GET /admin/sessions");
            var health = ctx.Op(await b.SendAsync(HttpMethod.Get, "/health/ready"), "health during outage");
            outageOps++;
            if (health.Status != 503 || health.ContentType?.StartsWith("application/problem+json", StringComparison.Ordinal) != true)
                improper.Add($"GET /health/ready → {health.Status} {health.ContentType}");
        }
        await Task.Delay(1500);
        await WaveAsync(1);
        await Rig.DelayUntil(tDown + o.PgOutage * 500);
        await WaveAsync(2);
        await Rig.DelayUntil(tDown + o.PgOutage * 1000);

        // Restart; log the same user in every 250 ms from the moment the start is issued.
        var attempts = new ConcurrentQueue<(double Done, int Status)>();
        var tStart = Rig.Now;
        var poller = Task.Run(async () =>
        {
            var deadline = Rig.Now + 60_000;
            for (var k = 0; Rig.Now < deadline; k++)
            {
                var reply = ctx.Op(await (k % 2 == 0 ? a : b).LoginRawAsync(loginUser, Ctx.UserPassword), "login after restart");
                attempts.Enqueue((Rig.Now, reply.Status));
                if (reply.Status == 200) return;
                await Task.Delay(250);
            }
        });
        await Rig.HookAsync("pg-start");
        var tReady = Rig.Now;
        await poller;
        var firstOk = attempts.FirstOrDefault(x => x.Status == 200);
        var failedAfterReady = attempts.Count(x => x.Done > tReady && x.Status != 200);
        logins429 += attempts.Count(x => x.Status == 429);
        // The platform admin, who tried 8 times during the outage with the right password, gets in at once.
        var platform = ctx.Op(await b.LoginRawAsync("admin", Ctx.PlatformPassword, "system"), "platform admin login after recovery");
        if (platform.Status == 429) logins429++;
        r.Check("the platform admin logs in right after the outage (its attempts during it counted for nothing)", platform.Status == 200, $"HTTP {platform.Status}");

        // After recovery everything that was refused works, and what was not done was not half-done.
        if (s1.Refresh is not null)
        {
            var refreshed = await ctx.UntilAnsweredAsync(() => a.RefreshAsync(s1.Refresh), "refresh after recovery");
            r.Check("refresh token refused during the outage still works after it", refreshed.Status == 200, $"HTTP {refreshed.Status}");
            if (Api.CredentialOf(refreshed, "s1") is { } fresh)
            {
                s1.Bearer = fresh.Bearer;
                s1.Refresh = fresh.Refresh;
            }
        }
        var own = await ctx.UntilAnsweredAsync(() => a.SendAsync(HttpMethod.Get, "/auth/sessions", s1.Bearer), "GET /auth/sessions after recovery");
        var logout = await ctx.UntilAnsweredAsync(() => b.SendAsync(HttpMethod.Post, "/auth/logout", s1.Bearer), "logout after recovery");
        var kick = await ctx.UntilAnsweredAsync(() => a.SendAsync(HttpMethod.Delete, $"/admin/sessions/{s2.SessionId}", admin.Bearer), "kick after recovery");
        var created = await ctx.UntilAnsweredAsync(() => b.SendAsync(HttpMethod.Post, "/admin/users", admin.Bearer,
            new { username = "frpgafter", password = Ctx.UserPassword, roles = new[] { "user" } }), "create user after recovery");
        r.Check("after recovery: GET /auth/sessions 200, logout 204, kick 204, create user 201/409",
            own.Status == 200 && logout.Status == 204 && kick.Status == 204 && created.Status is 201 or 409,
            $"{own.Status}, {logout.Status}, {kick.Status}, {created.Status}");
        await Task.Delay(300);
        var accepted = 0;
        foreach (var api in new[] { a, b })
        {
            foreach (var c in new[] { s1, s2 })
            {
                if (ctx.Op(await api.ProfileAsync(c), "revoked credential after recovery").Status == 200) accepted++;
            }
        }
        r.Check("sessions logged out / kicked after recovery are refused on A and B", accepted == 0, $"{accepted} accepted");

        await Task.Delay(4000);
        await load.StopAsync();
        var tEnd = Rig.Now;

        Fill(r, load, t0, tEnd);
        var during = load.Between(tStop, tReady + 2000);
        var duringBad = during.Where(x => x.Status != 200).ToList();
        r.Check("authenticated load answered 200 throughout the outage (sliding writes fall due every 5 s)", duringBad.Count == 0,
            $"{duringBad.Count} of {during.Count} not 200" + (duringBad.Count > 0 ? $" ({string.Join(", ", duringBad.GroupBy(x => x.Status).Select(g => $"{g.Count()}×{g.Key}"))})" : ""));
        var total500 = r.Load.S500 + r.Ops.S500;
        r.Check("no 500 (load and every other request)", total500 == 0, $"{total500}");
        if (o.Mode != "Blacklist" && o.Logs is not null)
        {
            // Evidence that the outage really met sliding writes that fell due (Blacklist slides only on refresh).
            var deferred = new[] { "A", "B" }.Select(i => $"{o.Logs}-{i}.log").Where(File.Exists)
                .SelectMany(File.ReadLines).Count(l => l.Contains("Sliding writes deferred", StringComparison.Ordinal));
            r.Check("sliding writes fell due during the outage and were deferred, not failed (app logs)", deferred > 0,
                $"{deferred} 'Sliding writes deferred' lines in the A and B logs");
        }
        CheckOutageLogged(r, o, "Postgres");
        r.Check("every request needing PostgreSQL during the outage answered 503 problem+json with Retry-After", improper.Count == 0,
            improper.Count == 0 ? $"{outageOps} of {outageOps}" : string.Join("; ", improper.Distinct()));
        r.Check("right-password logins during the outage counted as no failure (no 429, then a login at once)",
            logins429 == 0 && firstOk.Status == 200, logins429 == 0 ? (firstOk.Status == 200 ? "no 429" : "no login succeeded") : $"{logins429} × 429");
        r.Check("a login succeeds soon after PostgreSQL is back (≤ 10 s)", firstOk.Status == 200 && firstOk.Done - tReady <= 10_000,
            firstOk.Status == 200 ? $"{Rig.Seconds(firstOk.Done - tReady)} after ready" : "never within 60 s");
        r.Timings = $"PG down {Rig.Seconds(tReady - tStop)}; first login 200 {(firstOk.Status == 200 ? Rig.Seconds(firstOk.Done - tReady) : "never")} " +
                    $"after PG ready ({(firstOk.Status == 200 ? Rig.Seconds(firstOk.Done - tStart) : "–")} after start issued; {failedAfterReady} login(s) refused after ready); " +
                    $"ops 503 during outage: {outageOps - improper.Count}/{outageOps}";
        return [r];
    }

    // ================================================================================================================
    // redis-restart
    // ================================================================================================================

    /// <summary>
    /// redis-restart: the standalone Redis shut down for --redis-outage seconds and started empty. redis-pause: the
    /// same Redis frozen (SIGSTOP) as long, then thawed with its data: connections stay open and commands time out.
    /// </summary>
    public static async Task<List<ScenarioResult>> RedisRestartAsync(Options o)
    {
        var pause = o.Scenario == "redis-pause";
        var r = Row(o, o.Scenario);
        const string victim = "frrvictim";
        var ctx = await SetupAsync(o, r, [victim]);
        var (a, b, admin, load) = (ctx.A, ctx.B, ctx.Admin, ctx.Load);
        var cA = await a.LoginAsync(victim, Ctx.UserPassword, "A");
        var cB = await a.LoginAsync(victim, Ctx.UserPassword, "B");
        var cC = await a.LoginAsync(victim, Ctx.UserPassword, "C");

        load.Start();
        var t0 = Rig.Now;
        await Task.Delay(2000);

        var logout = ctx.Op(await a.SendAsync(HttpMethod.Post, "/auth/logout", cA.Bearer), "logout A");
        var kick = ctx.Op(await b.SendAsync(HttpMethod.Delete, $"/admin/sessions/{cB.SessionId}", admin.Bearer), "kick B");
        r.Check("before the outage: logout of A 204, kick of B 204", logout.Status == 204 && kick.Status == 204, $"{logout.Status}, {kick.Status}");

        var acceptedRevoked = new List<string>();
        var phase = "before";
        async Task<int> PresentAsync(Api api, Credential c)
        {
            var reply = ctx.Op(await api.ProfileAsync(c), $"present {c.Label} on {api.Name}");
            if (reply.Status == 200 && (c == cA || c == cB)) acceptedRevoked.Add($"{c.Label} on {api.Name} ({phase})");
            return reply.Status;
        }
        async Task<Dictionary<string, double?>> UntilAcceptedAsync(Credential c, double seconds, double since)
        {
            var ok = ctx.Probes.ToDictionary(p => p.Name, _ => (double?)null);
            var deadline = Rig.Now + seconds * 1000;
            while (Rig.Now < deadline && ok.Values.Any(v => v is null))
            {
                foreach (var api in ctx.Probes.Where(p => ok[p.Name] is null))
                {
                    if (await PresentAsync(api, c) == 200) ok[api.Name] = Rig.Now - since;
                }
                if (ok.Values.Any(v => v is null)) await Task.Delay(200);
            }
            return ok;
        }
        static string Times(Dictionary<string, double?> ok) =>
            string.Join(", ", ok.Select(kv => $"{kv.Key} {(kv.Value is { } t ? Rig.Seconds(t) : "never")}"));

        foreach (var api in ctx.Probes)
        {
            await PresentAsync(api, cA);
            await PresentAsync(api, cB);
        }
        var before = await UntilAcceptedAsync(cC, 5, Rig.Now);
        if (before.Values.Any(v => v is null)) throw new RigException($"C is not accepted before the outage: {Times(before)}");

        phase = "Redis down";
        var tStop = Rig.Now;
        await Rig.HookAsync(pause ? "redis-pause" : "redis-stop");
        var tDown = Rig.Now;
        var loginDuring = new List<int>();
        for (var wave = 0; wave < 2; wave++)
        {
            await Rig.DelayUntil(tDown + 1000 + wave * 2000);
            foreach (var api in ctx.Probes)
            {
                await PresentAsync(api, cA);
                await PresentAsync(api, cB);
            }
            var login = ctx.Op(await b.LoginRawAsync(victim, Ctx.UserPassword), "login while Redis is down");
            loginDuring.Add(login.IsProper503 ? 503 : login.Status);
        }
        r.Check("logins while Redis is down answer 503 problem+json with Retry-After", loginDuring.All(s => s == 503),
            string.Join(", ", loginDuring.Select(s => s == 503 ? "503" : $"{s} (not a proper 503)")));
        var health = ctx.Op(await a.SendAsync(HttpMethod.Get, "/health/ready"), "health while Redis is down");
        r.Check("GET /health/ready answers 503 while Redis is down", health.Status == 503, $"HTTP {health.Status}");
        await Rig.DelayUntil(tDown + o.RedisOutage * 1000);

        await Rig.HookAsync(pause ? "redis-cont" : "redis-start");
        var tUp = Rig.Now;
        phase = "after restart";

        // C first (it rebuilds what Redis lost), then A and B, then a fresh login D.
        var cOk = await UntilAcceptedAsync(cC, 20, tUp);
        foreach (var api in ctx.Probes)
        {
            await PresentAsync(api, cA);
            await PresentAsync(api, cB);
        }
        foreach (var c in new[] { cA, cB })
        {
            if (c.Refresh is null) continue;
            var refreshed = ctx.Op(await a.RefreshAsync(c.Refresh), $"refresh {c.Label} after restart");
            if (refreshed.Status == 200) acceptedRevoked.Add($"refresh token of {c.Label} (after restart)");
        }
        var loginD = await ctx.UntilAnsweredAsync(() => b.LoginRawAsync(victim, Ctx.UserPassword), "login D after restart", 20);
        var cD = Api.CredentialOf(loginD, "D");
        Dictionary<string, double?> dOk = ctx.Probes.ToDictionary(p => p.Name, _ => (double?)null);
        if (cD is not null) dOk = await UntilAcceptedAsync(cD, 10, tUp);

        // Keep presenting for a while: a revoked credential must stay refused, not only at first.
        var lateRefusals = 0;
        var probeEnd = Rig.Now + 5000;
        while (Rig.Now < probeEnd)
        {
            foreach (var api in ctx.Probes)
            {
                await PresentAsync(api, cA);
                await PresentAsync(api, cB);
                if (await PresentAsync(api, cC) != 200) lateRefusals++;
                if (cD is not null && await PresentAsync(api, cD) != 200) lateRefusals++;
            }
            await Task.Delay(500);
        }
        await Task.Delay(1000);
        await load.StopAsync();
        var tEnd = Rig.Now;

        Fill(r, load, t0, tEnd);
        var whileDown = load.Between(tStop, tUp);
        // Answered while Redis was away (one that waited on a frozen Redis and got its answer after the thaw is fine).
        var pastL1 = load.Between(tDown + 2500, tUp).Where(x => x.DoneMs < tUp).ToList();
        var servedPastL1 = pastL1.Count(x => x.Status == 200);
        r.Check("load fails closed while Redis is down: 503, never 500 (past the L1's 2 s)", servedPastL1 == 0 && whileDown.All(x => x.Status is 200 or 503),
            $"{whileDown.Count(x => x.Status == 503)} × 503, {whileDown.Count(x => x.Status == 200)} × 200 (of which {servedPastL1} past 2.5 s), " +
            $"{whileDown.Count(x => x.Status is not (200 or 503))} other");
        var total500 = r.Load.S500 + r.Ops.S500;
        r.Check("no 500 (load and every other request)", total500 == 0, $"{total500}");
        r.Check("revoked credentials (A logged out, B kicked) never accepted, on A, B and N (no L1)", acceptedRevoked.Count == 0,
            acceptedRevoked.Count == 0 ? "0 accepted" : $"{acceptedRevoked.Count} accepted: {string.Join("; ", acceptedRevoked.Distinct())}");
        r.Check("C (live, presented first after the restart) accepted on every instance", cOk.Values.All(v => v is not null), Times(cOk));
        r.Check("fresh login D after the restart succeeds and is accepted on every instance", cD is not null && dOk.Values.All(v => v is not null),
            cD is null ? $"login: {loginD.Short}" : Times(dOk));
        r.Check("C and D stay accepted afterwards", lateRefusals == 0, $"{lateRefusals} refusals");
        var lastFail = load.LastFailureDone(tStop);
        var recovery = lastFail is { } lf ? Math.Max(0, lf - tUp) : 0;
        var stable = lastFail is null || lastFail < tEnd - 2000;
        r.Check("all load sessions answer 200 again (≤ 10 s after Redis is back)", stable && recovery <= 10_000, stable ? Rig.Seconds(recovery) : "not stable at the end");
        var failed = load.Between(tStop, tEnd).Where(x => x.Status != 200).ToList();
        r.Check("refused requests answer within 3 s, none unanswered (no hang on a Redis that does not answer)",
            failed.All(x => x.Status != 0 && x.Ms <= 3000), $"{failed.Count} refused: {Latencies(failed)}; {failed.Count(x => x.Status == 0)} without answer");
        CheckOutageLogged(r, o, "Redis");
        var first503 = whileDown.FirstOrDefault(x => x.Status == 503);
        r.Timings = $"Redis {(pause ? "frozen" : "down")} {Rig.Seconds(tUp - tStop)}; 503s {Latencies(failed.Where(x => x.Status == 503))}; first 503 {(first503 is null ? "–" : Rig.Seconds(first503.SentMs - tStop))} after stop; " +
                    $"all load 200 again {(stable ? Rig.Seconds(recovery) : "not by the end")} after Redis up; C accepted everywhere " +
                    $"{(cOk.Values.All(v => v is not null) ? Rig.Seconds(cOk.Values.Max()!.Value) : "never")} after Redis up";
        return [r];
    }

    // ================================================================================================================
    // cluster-failover
    // ================================================================================================================

    public static async Task<List<ScenarioResult>> ClusterFailoverAsync(Options o)
    {
        var rows = new List<ScenarioResult>();
        var cluster = new Cluster(o.ClusterPorts);
        if (!await cluster.WaitHealthyAsync(60)) throw new RigException("the Redis Cluster is not healthy before the scenario");
        var setupRow = Row(o, "cluster-failover (a) manual CLUSTER FAILOVER");
        const string victim = "frcvictim";
        var ctx = await SetupAsync(o, setupRow, [victim]);
        var load = ctx.Load;

        // Where the load's keys and the tenant's role set (read by every request of the server-side modes) live.
        var loadSlots = load.Sessions.Select(s => Keys.SlotOf(o.Mode, s)).ToList();
        var roleSetSlots = new HashSet<int>();
        foreach (var port in cluster.Ports)
        {
            var keys = await Rig.RedisAsync(port, 10, "--scan", "--pattern", o.Prefix + "*{t:*");
            foreach (var k in (keys ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries)) roleSetSlots.Add(Cluster.Slot(k.Trim()));
        }

        load.Start();
        try
        {
            ctx.R = setupRow;
            rows.Add(await ManualFailoverAsync(ctx, cluster, loadSlots));
            ctx.R = Row(o, "cluster-failover (b) SIGKILL a master");
            rows.Add(await KillMasterAsync(ctx, cluster, loadSlots, roleSetSlots));
            ctx.R = Row(o, "cluster-failover (c) lagging replica promoted without a tombstone");
            rows.Add(await LaggingReplicaAsync(ctx, cluster, victim));
        }
        finally
        {
            await load.StopAsync();
        }
        return rows;
    }

    private static async Task<(ClusterNode Master, ClusterNode Replica, int Keys)> BusiestAsync(Cluster cluster, List<int> loadSlots, HashSet<int>? avoid = null)
    {
        var nodes = await cluster.NodesAsync();
        var masters = nodes.Where(n => n.IsMaster && !n.Failed && n.Slots.Count > 0)
            .Select(m => (Master: m, Keys: loadSlots.Count(m.Holds), Avoided: avoid is not null && avoid.Any(m.Holds)))
            .OrderBy(x => x.Keys == 0).ThenBy(x => x.Avoided).ThenByDescending(x => x.Keys).ToList();
        var pick = masters.First();
        var replica = nodes.FirstOrDefault(n => n.MasterId == pick.Master.Id && !n.Failed) ?? throw new RigException($"master :{pick.Master.Port} has no replica");
        return (pick.Master, replica, pick.Keys);
    }

    /// <summary>
    /// Polls CLUSTER INFO on one surviving master every 100 ms and returns the span in which it reported anything but
    /// cluster_state:ok (with the default cluster-require-full-coverage, every node refuses every key then: CLUSTERDOWN).
    /// </summary>
    private static async Task<(double? From, double? To)> WatchClusterStateAsync(int port, CancellationToken stop)
    {
        double? from = null, to = null;
        while (!stop.IsCancellationRequested)
        {
            var info = await Rig.RedisAsync(port, 1, "CLUSTER", "INFO");
            var ok = info?.Contains("cluster_state:ok", StringComparison.Ordinal) == true;
            if (!ok && from is null) from = Rig.Now;
            if (ok && from is not null && to is null) to = Rig.Now;
            try { await Task.Delay(100, stop); } catch (OperationCanceledException) { }
        }
        return (from, to);
    }

    private static string Span((double? From, double? To) s, double origin) =>
        s.From is null ? "never" : $"{Rig.Seconds(s.From.Value - origin)}–{(s.To is null ? "end" : Rig.Seconds(s.To.Value - origin))}";

    /// <summary>How the failed requests' latencies spread: fast (&lt; 100 ms), about one 1 s command timeout, or more.</summary>
    private static string Spread(IReadOnlyCollection<Rec> failures) =>
        $"{failures.Count(x => x.Ms < 100)} under 100 ms, {failures.Count(x => x.Ms is >= 100 and < 1500)} 0.1–1.5 s, " +
        $"{failures.Count(x => x.Ms is >= 1500 and < 3000)} 1.5–3 s, {failures.Count(x => x.Ms >= 3000)} over 3 s";

    private static async Task<ScenarioResult> ManualFailoverAsync(Ctx ctx, Cluster cluster, List<int> loadSlots)
    {
        var r = ctx.R;
        var t0 = Rig.Now;
        var (master, replica, keys) = await BusiestAsync(cluster, loadSlots);
        r.Note($"CLUSTER FAILOVER on replica :{replica.Port} of master :{master.Port} ({keys} of {loadSlots.Count} load sessions' keys there)");
        await Task.Delay(2000);
        var tF = Rig.Now;
        var answer = await Rig.RedisAsync(replica.Port, "CLUSTER", "FAILOVER");
        if (answer?.Trim() != "OK") throw new RigException($"CLUSTER FAILOVER on :{replica.Port} answered '{answer}'");
        double? tP = null;
        while (Rig.Now < tF + 20_000)
        {
            if (await cluster.RoleAsync(replica.Port) == "master") { tP = Rig.Now; break; }
            await Task.Delay(50);
        }
        var healthy = await cluster.WaitHealthyAsync(60);
        await Task.Delay(5000);
        var tEnd = Rig.Now;

        Fill(r, ctx.Load, t0, tEnd);
        var after = ctx.Load.Between(tF, tEnd);
        var failures = after.Where(x => x.Status != 200).ToList();
        var lastFail = ctx.Load.LastFailureDone(tF);
        r.Check("replica promoted by CLUSTER FAILOVER", tP is not null, tP is null ? "not within 20 s" : Rig.Seconds(tP.Value - tF));
        r.Check("cluster healthy again (old master a synced replica)", healthy, healthy ? "yes" : "no within 60 s");
        r.Check("no 500", r.Load.S500 + r.Ops.S500 == 0, $"{r.Load.S500 + r.Ops.S500}");
        r.Check("load sessions answer 200 again within 10 s of the failover", lastFail is null || lastFail - tF <= 10_000,
            lastFail is null ? "never failed" : Rig.Seconds(lastFail.Value - tF));
        r.Timings = $"promotion {(tP is null ? "–" : Rig.Seconds(tP.Value - tF))} after CLUSTER FAILOVER; {failures.Count} non-200 " +
                    $"({Latencies(failures)}); all 200 again {(lastFail is null ? "throughout" : Rig.Seconds(Math.Max(0, lastFail.Value - tF)) + " after the command")}";
        return r;
    }

    private static async Task<ScenarioResult> KillMasterAsync(Ctx ctx, Cluster cluster, List<int> loadSlots, HashSet<int> roleSetSlots)
    {
        var r = ctx.R;
        var t0 = Rig.Now;
        // Prefer a master without the role set, so sessions whose keys live elsewhere show whether they are untouched.
        var (master, replica, keys) = await BusiestAsync(cluster, loadSlots, roleSetSlots);
        var roleSetThere = roleSetSlots.Any(master.Holds);
        var affected = Enumerable.Range(0, loadSlots.Count).Where(i => master.Holds(loadSlots[i])).ToHashSet();
        r.Note($"SIGKILL master :{master.Port} (replica :{replica.Port}); {keys} of {loadSlots.Count} load sessions' keys there" +
               (roleSetSlots.Count == 0 ? "" : roleSetThere ? "; the tenant role set too" : "; the tenant role set elsewhere"));
        var nodesNow = await cluster.NodesAsync();
        var witness = nodesNow.First(n => n.IsMaster && !n.Failed && n.Slots.Count > 0 && n.Port != master.Port).Port;
        using var stopWatch = new CancellationTokenSource();
        var watcher = WatchClusterStateAsync(witness, stopWatch.Token);
        await Task.Delay(2000);
        var tK = Rig.Now;
        await Rig.HookAsync("node-kill", master.Port.ToString());
        cluster.Down.Add(master.Port);
        double? tP = null;
        while (Rig.Now < tK + 30_000)
        {
            if (await cluster.RoleAsync(replica.Port) == "master") { tP = Rig.Now; break; }
            await Task.Delay(50);
        }
        double? tOk = null;
        if (tP is not null)
        {
            while (Rig.Now < tK + 30_000)
            {
                var info = await Rig.RedisAsync(replica.Port, "CLUSTER", "INFO");
                if (info?.Contains("cluster_state:ok", StringComparison.Ordinal) == true) { tOk = Rig.Now; break; }
                await Task.Delay(50);
            }
        }
        // Wait until the load has been all 200 for 3 s (or 30 s past the promotion).
        var waitEnd = (tP ?? tK) + 30_000;
        while (Rig.Now < waitEnd)
        {
            var lf = ctx.Load.LastFailureDone(tK);
            if (Rig.Now > (tP ?? tK) && (lf is null || lf < Rig.Now - 3000)) break;
            await Task.Delay(200);
        }
        var tStable = Rig.Now;
        await stopWatch.CancelAsync();
        var down = await watcher;
        await Rig.HookAsync("node-start", master.Port.ToString());
        cluster.Down.Remove(master.Port);
        var healthy = await cluster.WaitHealthyAsync(90);
        await Task.Delay(2000);
        var tEnd = Rig.Now;

        Fill(r, ctx.Load, t0, tEnd);
        var window = ctx.Load.Between(tK, tStable);
        var failures = window.Where(x => x.Status != 200).ToList();
        var s503 = window.Where(x => x.Status == 503).ToList();
        var lastFail = ctx.Load.LastFailureDone(tK);
        // Sessions on other masters may fail only while the cluster itself says it is down (CLUSTERDOWN), with a
        // little slack for requests already in flight at either edge.
        var unaffected = window.Where(x => !affected.Contains(x.Session) && x.Status != 200).ToList();
        var unaffectedOutside = unaffected.Count(x => down.From is null || x.DoneMs < down.From - 500 || (down.To is not null && x.SentMs > down.To + 500));
        var rejoinBad = ctx.Load.Between(tStable, tEnd).Count(x => x.Status != 200);
        var noAnswer = window.Count(x => x.Status == 0);
        var slow = failures.Count(x => x.Ms > 3000);
        r.Check("replica promoted after SIGKILL of its master", tP is not null, tP is null ? "not within 30 s" : Rig.Seconds(tP.Value - tK));
        r.Check("no 500", r.Load.S500 + r.Ops.S500 == 0, $"{r.Load.S500 + r.Ops.S500}");
        r.Check("failed requests answer within 3 s (1 s command timeout + the client's 1 s timeout check; no hang), none unanswered", slow == 0 && noAnswer == 0,
            $"{failures.Count} failed: {Latencies(failures)}; {Spread(failures)}; {noAnswer} without answer");
        r.Check("all load sessions answer 200 again within 10 s of the promotion", lastFail is null || (tP is not null && lastFail - tP <= 10_000),
            lastFail is null ? "never failed" : tP is null ? "no promotion" : $"{Rig.Seconds(lastFail.Value - tP.Value)} after promotion");
        if (!roleSetThere)
            r.Check("sessions whose keys live on other masters answer 200 except while the cluster reports state fail", unaffectedOutside == 0,
                $"{unaffected.Count} non-200, {unaffectedOutside} outside the cluster's own down span ({Span(down, tK)} after SIGKILL)");
        r.Check("the killed node rejoins as a synced replica without errors", healthy && rejoinBad == 0, $"{(healthy ? "healthy" : "not healthy")}, {rejoinBad} non-200 meanwhile");
        var first = s503.FirstOrDefault();
        var last = s503.LastOrDefault();
        r.Timings = $"cluster promotion {(tP is null ? "–" : Rig.Seconds(tP.Value - tK))} (state ok {(tOk is null ? "–" : Rig.Seconds(tOk.Value - tK))}; " +
                    $"cluster_state:fail on another master {Span(down, tK)}) after SIGKILL; " +
                    $"503 window {(first is null ? "none" : $"{Rig.Seconds(first.SentMs - tK)}–{Rig.Seconds(last!.DoneMs - tK)}")} ({s503.Count} × 503, {Latencies(s503)}); " +
                    $"all 200 again {(lastFail is null ? "throughout" : Rig.Seconds(Math.Max(0, lastFail.Value - tK)))} after SIGKILL";
        return r;
    }

    private static async Task<ScenarioResult> LaggingReplicaAsync(Ctx ctx, Cluster cluster, string victim)
    {
        var r = ctx.R;
        var o = ctx.O;
        var (a, b, admin) = (ctx.A, ctx.B, ctx.Admin);
        var t0 = Rig.Now;
        var kicked = await a.LoginAsync(victim, Ctx.UserPassword, "K");
        var control = await b.LoginAsync(victim, Ctx.UserPassword, "ctl");
        foreach (var api in ctx.Probes)
        {
            foreach (var c in new[] { kicked, control })
            {
                var ok = await ctx.UntilAnsweredAsync(() => api.ProfileAsync(c), $"present {c.Label} on {api.Name} before the fault");
                if (ok.Status != 200) throw new RigException($"{c.Label} not accepted on {api.Name} before the fault: {ok.Short}");
            }
        }
        var (key, field) = Cluster.SessionKey(o.Mode, o.Prefix, kicked, await GenerationAsync(o));
        var slot = Cluster.Slot(key);
        var (master, replica) = await cluster.OwnerAsync(slot);
        r.Note($"kicked session's key {key}{(field is null ? "" : $" field {field}")} is in slot {slot}: master :{master.Port}, replica :{replica.Port}");
        // The entry must have reached the replica before the fault (the requests above wrote or rebuilt it).
        var replicaBefore = "";
        for (var k = 0; k < 30; k++)
        {
            replicaBefore = await Cluster.StateAsync(replica.Port, key, field);
            if (replicaBefore is "live" or "not-revoked") break;
            await Task.Delay(100);
        }

        // Freeze the replica, cut its link so nothing of the kick reaches it, kick, kill the master, thaw the replica.
        await Rig.HookAsync("node-stop", replica.Port.ToString());
        cluster.Down.Add(replica.Port);
        double tKick, tKill;
        string onMaster;
        try
        {
            var cut = await Rig.RedisAsync(master.Port, "CLIENT", "KILL", "TYPE", "replica");
            var kick = ctx.Op(await b.SendAsync(HttpMethod.Delete, $"/admin/sessions/{kicked.SessionId}", admin.Bearer, timeoutSeconds: 5), "kick K");
            tKick = Rig.Now;
            r.Check("kick through the admin API", kick.Status == 204, $"HTTP {kick.Status}");
            onMaster = await Cluster.StateAsync(master.Port, key, field);
            r.Note($"replica link cut (CLIENT KILL TYPE replica: {cut}); on the master after the kick: {onMaster}; on the replica before: {replicaBefore}");
            await Rig.HookAsync("node-kill", master.Port.ToString());
            tKill = Rig.Now;
            cluster.Down.Add(master.Port);
        }
        finally
        {
            await Rig.HookAsync("node-cont", replica.Port.ToString());
            cluster.Down.Remove(replica.Port);
        }
        // What the replica holds before it is promoted: nothing but replication could have written it.
        await Task.Delay(300);
        var beforePromotion = await Cluster.StateAsync(replica.Port, key, field);
        var lost = beforePromotion is "live" or "not-revoked" or "missing";

        // Probe the kicked credential on A, B and N every 200 ms; watch the key on the promoted replica.
        var accepted = new ConcurrentQueue<(double At, string Instance)>();
        var probeStatuses = new ConcurrentDictionary<string, Counts>();
        using var stop = new CancellationTokenSource();
        var probe = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (var api in ctx.Probes)
                {
                    var reply = ctx.Op(await api.ProfileAsync(kicked), $"present kicked K on {api.Name}");
                    probeStatuses.GetOrAdd(api.Name, _ => new Counts()).Add(reply.Status);
                    if (reply.Status == 200) accepted.Enqueue((Rig.Now, api.Name));
                }
                try { await Task.Delay(200, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        double? tP = null, tRestored = null;
        string atPromotion = "";
        while (Rig.Now < tKill + 40_000)
        {
            if (tP is null && await cluster.RoleAsync(replica.Port) == "master")
            {
                tP = Rig.Now;
                atPromotion = await Cluster.StateAsync(replica.Port, key, field);
            }
            if (tP is not null)
            {
                var state = await Cluster.StateAsync(replica.Port, key, field);
                if (state is "tombstone" or "revoked") { tRestored = Rig.Now; break; }
                if (Rig.Now > tP + 20_000) break;
            }
            await Task.Delay(100);
        }
        // Keep probing for a while after the promotion (or the restore) so late acceptance shows.
        await Task.Delay(8000);
        var controlOk = new Dictionary<string, int>();
        foreach (var api in ctx.Probes)
            controlOk[api.Name] = (await ctx.UntilAnsweredAsync(() => api.ProfileAsync(control), $"present control on {api.Name}", 15)).Status;
        await stop.CancelAsync();
        await probe;

        await Rig.HookAsync("node-start", master.Port.ToString());
        cluster.Down.Remove(master.Port);
        var healthy = await cluster.WaitHealthyAsync(90);
        await Task.Delay(1000);
        var tEnd = Rig.Now;

        Fill(r, ctx.Load, t0, tEnd);
        var grace = (tP ?? tKill) + 3000;
        var late = accepted.Where(x => x.At > grace).ToList();
        r.Check("the fault took effect: the replica was promoted without the kick's write", lost,
            $"replica before promotion: {beforePromotion}; at promotion: {(tP is null ? "not promoted" : atPromotion)}; master had: {onMaster}");
        r.Check("replica promoted", tP is not null, tP is null ? "not within 40 s" : Rig.Seconds(tP.Value - tKill) + " after SIGKILL");
        r.Check("the app re-applied the revocation to the promoted replica (outbox replay)", tRestored is not null,
            tRestored is null ? "tombstone not back within 20 s of the promotion" : $"{Rig.Seconds(tRestored.Value - tP!.Value)} after promotion");
        var onAB = accepted.Count(x => x.Instance != "N");
        var onN = accepted.Where(x => x.Instance == "N").ToList();
        r.Check("kicked session never accepted again on A or B", onAB == 0, $"{onAB} accepted");
        r.Check("N (L1 off, sees only Redis): kicked session not accepted past 3 s after the promotion", late.Count == 0,
            onN.Count == 0 ? "0 accepted" : $"{onN.Count} accepted, {Rig.Seconds(onN.Min(x => x.At) - (tP ?? tKill))}–{Rig.Seconds(onN.Max(x => x.At) - (tP ?? tKill))} after promotion; {late.Count} past 3 s");
        r.Check("control session of the same user accepted on A, B and N after the failover", controlOk.Values.All(s => s == 200),
            string.Join(", ", controlOk.Select(kv => $"{kv.Key} {kv.Value}")));
        r.Check("no 500", r.Load.S500 + r.Ops.S500 == 0, $"{r.Load.S500 + r.Ops.S500}");
        r.Check("cluster healthy again", healthy, healthy ? "yes" : "no within 90 s");
        r.Note("kicked K presented every 200 ms: " + string.Join("; ", probeStatuses.OrderBy(kv => kv.Key).Select(kv =>
            $"{kv.Key}: {kv.Value.S200}×200 {kv.Value.S401}×401 {kv.Value.S503}×503 {kv.Value.NoAnswer}×none {kv.Value.Other + kv.Value.S500 + kv.Value.S403 + kv.Value.S429 + kv.Value.S502}×other")));
        var lastFail = ctx.Load.LastFailureDone(tKill);
        r.Timings = $"promotion {(tP is null ? "–" : Rig.Seconds(tP.Value - tKill))} after SIGKILL; tombstone back {(tRestored is null ? "never" : Rig.Seconds(tRestored.Value - tP!.Value) + " after promotion")}; " +
                    $"kicked K accepted {onAB}× on A/B, {onN.Count}× on N; load all 200 again {(lastFail is null ? "throughout" : Rig.Seconds(Math.Max(0, lastFail.Value - tKill)) + " after SIGKILL")}";
        _ = tKick;
        return r;
    }
}
