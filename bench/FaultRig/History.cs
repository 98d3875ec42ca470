using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace SessionGate.Bench.FaultRig;

/// <summary>PostgreSQL through the hook's <c>sql</c> action (psql as the postgres user): the rig reads what the app wrote.</summary>
public static class Pg
{
    public static async Task<List<string[]>> QueryAsync(string db, string sql, double timeoutSeconds = 60)
    {
        var (code, output, error) = await Rig.RunAsync(Rig.Hook, ["sql", db], timeoutSeconds, sql);
        if (code != 0) throw new RigException($"SQL failed ({code}): {error.Trim()} [{sql.Trim().Split('\n')[0]}]");
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r').Split('|')).ToList();
    }

    public static async Task<string> ScalarAsync(string db, string sql) =>
        (await QueryAsync(db, sql)).FirstOrDefault()?.FirstOrDefault() ?? "";

    public static string Literal(string s) => "'" + s.Replace("'", "''") + "'";

    /// <summary>Gives the relay's writer lease to nobody until <paramref name="until"/> (the suite's HoldWriterAsync): no instance re-applies rows or moves a mark.</summary>
    public static Task HoldWriterAsync(Options o, TimeSpan forHowLong) => QueryAsync(o.Db,
        $"""UPDATE redis_keyspaces SET "Writer" = 'held-by-fault-rig', "WriterUntil" = now() + interval '{(int)forHowLong.TotalSeconds} seconds' WHERE "Prefix" = {Literal(o.Prefix)};""");

    public static Task ReleaseWriterAsync(Options o) => QueryAsync(o.Db,
        $"""UPDATE redis_keyspaces SET "WriterUntil" = '1970-01-01T00:00:00Z' WHERE "Prefix" = {Literal(o.Prefix)} AND "Writer" = 'held-by-fault-rig';""");
}

/// <summary>What PostgreSQL says of the outbox and the key prefix's keyspace.</summary>
public sealed record OutboxState(long MaxTxId, long Rows, long SetAside, long Generation, long GenerationStart, long PrunedBelow);

/// <summary>One master's mark as Redis holds it: <c>&lt;generation&gt;:&lt;horizon&gt;</c>, or none.</summary>
public sealed record MarkRead(string Node, long? Generation, long? Horizon)
{
    public override string ToString() => $"{Node} {(Horizon is null ? "no mark" : $"{Generation}:{Horizon}")}";
}

/// <summary>
/// Reads the marks Redis carries (App/Sessions/RedisMarks.cs: <c>&lt;prefix&gt;mark</c> standalone,
/// <c>&lt;prefix&gt;{mark:N}</c> on each cluster master, N the lowest whose slot the master owns) and compares them
/// with the outbox in PostgreSQL: Redis covers every row when every master's mark is of the current generation and
/// its horizon is above the newest row's transaction id.
/// </summary>
public sealed class Marks(Options o, Cluster? cluster)
{
    public Options Options => o;

    public async Task<OutboxState> OutboxAsync()
    {
        var row = (await Pg.QueryAsync(o.Db, $"""
            SELECT (SELECT coalesce(max("TxId"), 0) FROM outbox WHERE "SetAsideAt" IS NULL),
                   (SELECT count(*) FROM outbox WHERE "TxId" >= k."GenerationStart"),
                   (SELECT count(*) FROM outbox WHERE "SetAsideAt" IS NOT NULL),
                   k."Generation", k."GenerationStart", k."PrunedBelow"
            FROM redis_keyspaces k WHERE k."Prefix" = {Pg.Literal(o.Prefix)};
            """)).FirstOrDefault() ?? throw new RigException($"no redis_keyspaces row for prefix {o.Prefix}");
        var v = row.Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
        return new OutboxState(v[0], v[1], v[2], v[3], v[4], v[5]);
    }

    public async Task<List<MarkRead>> ReadAsync()
    {
        if (cluster is null) return [Parse($":{o.RedisPort}", await Rig.RedisAsync(o.RedisPort, "GET", o.Prefix + "mark"))];
        var marks = new List<MarkRead>();
        foreach (var m in (await cluster.NodesAsync()).Where(n => n.IsMaster && !n.Failed && n.Slots.Count > 0 && !cluster.Down.Contains(n.Port)))
        {
            var key = MarkKey(m);
            marks.Add(Parse($":{m.Port}", await Rig.RedisAsync(m.Port, "GET", key)));
        }
        return marks;
    }

    /// <summary>The mark one master (or a replica about to be one) holds for the slots it has now.</summary>
    public async Task<MarkRead> ReadNodeAsync(ClusterNode node) => Parse($":{node.Port}", await Rig.RedisAsync(node.Port, "GET", MarkKey(node)));

    private string MarkKey(ClusterNode master)
    {
        for (var i = 0; i < 100_000; i++)
        {
            var key = $"{o.Prefix}{{mark:{i}}}";
            if (master.Holds(Cluster.Slot(key))) return key;
        }
        throw new RigException($"no mark key hashes to :{master.Port}");
    }

    private static MarkRead Parse(string node, string? raw)
    {
        raw = raw?.Trim();
        var colon = raw?.IndexOf(':') ?? -1;
        return colon > 0 && long.TryParse(raw![..colon], out var g) && long.TryParse(raw[(colon + 1)..], out var h)
            ? new MarkRead(node, g, h) : new MarkRead(node, null, null);
    }

    /// <summary>Whether the marks cover every row, with what was read (for notes).</summary>
    public async Task<(bool Covered, string Detail, OutboxState Outbox, List<MarkRead> Marks)> CoverageAsync()
    {
        var outbox = await OutboxAsync();
        var marks = await ReadAsync();
        var covered = marks.Count > 0 && marks.All(m => m.Generation == outbox.Generation && m.Horizon > outbox.MaxTxId);
        return (covered, $"newest row {outbox.MaxTxId}, generation {outbox.Generation}; marks {string.Join(", ", marks)}", outbox, marks);
    }

    /// <summary>Waits until the marks cover every row; the time it took, or null.</summary>
    public async Task<double?> WaitCoveredAsync(double timeoutSeconds)
    {
        var started = Rig.Now;
        var deadline = started + timeoutSeconds * 1000;
        while (Rig.Now < deadline)
        {
            try
            {
                if ((await CoverageAsync()).Covered) return Rig.Now - started;
            }
            catch (RigException)
            {
                // A node or PostgreSQL briefly not answering: look again.
            }
            await Task.Delay(200);
        }
        return null;
    }
}

/// <summary>What one instance's /metrics and /health/ready say about the proof (App/Hosting/OperationalGauges.cs).</summary>
public sealed record ProofState(string Instance, double? Backlog, double? Proven, double? SetAside, double? GenerationsMoved, string Health, int HealthStatus)
{
    /// <summary>Every change is proven in Redis: this instance answers from Redis again.</summary>
    public bool AnswersFromRedis => Backlog == 0 && Proven == 1;

    public override string ToString() => $"{Instance}: backlog {Fmt(Backlog)}, proven {Fmt(Proven)}, health {HealthStatus} {Health}";

    private static string Fmt(double? v) => v is null ? "?" : v.Value.ToString("0", CultureInfo.InvariantCulture);

    public static async Task<ProofState> ReadAsync(Api api)
    {
        var metrics = await api.SendAsync(HttpMethod.Get, "/metrics", timeoutSeconds: 5);
        var health = await api.SendAsync(HttpMethod.Get, "/health/ready", timeoutSeconds: 5);
        double? Gauge(string name)
        {
            if (metrics.Status != 200) return null;
            foreach (var line in metrics.Text.Split('\n'))
            {
                if (!line.StartsWith(name, StringComparison.Ordinal)) continue;
                var rest = line[name.Length..];
                if (rest.Length == 0 || (rest[0] != ' ' && rest[0] != '{')) continue;
                var value = rest[(rest.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
                if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
            }
            return null;
        }
        var status = health.Body?["status"]?.ToString() ?? (health.Status == 0 ? "no answer" : health.Text.Length > 40 ? health.Text[..40] : health.Text);
        return new ProofState(api.Name, Gauge("sessiongate_outbox_backlog"), Gauge("sessiongate_redis_proven"), Gauge("sessiongate_outbox_set_aside"),
            Gauge("sessiongate_redis_generations_moved"), status, health.Status);
    }
}

/// <summary>One revocation under test: the credential that must never be accepted again once it was refused.</summary>
public sealed class Victim
{
    public required string Kind { get; init; }
    public required string Username { get; init; }
    public required Credential Cred { get; init; }
    /// <summary>password: the session that changes the password (it stays).</summary>
    public Credential? Other { get; init; }
    /// <summary>role-permissions: the role whose permission is taken away.</summary>
    public string? Role { get; init; }
    public bool RoleKind => Kind is "roles" or "role-permissions";
    /// <summary>A role change shows on /api/reports (403, or 401 where the token carries the roles); the others everywhere.</summary>
    public string Path => RoleKind ? "/api/reports" : "/api/profile";
    public bool Revoked { get; set; }
    public double RevokedAt { get; set; }
}

/// <summary>An acme admin who is demoted, and then tries to give itself the role back.</summary>
public sealed record Escalator(string Username, Credential Cred);

/// <summary>The demoted admin's attempts, in order.</summary>
public sealed class Escalations
{
    private readonly List<(string Instance, int Status, string? RolesAfter, double At)> _list = [];

    public void Add(string instance, int status, string? rolesAfter, double at) => _list.Add((instance, status, rolesAfter, at));

    public bool AllRefused => _list.Count > 0 && _list.All(x => x.Status is 401 or 403);

    /// <summary>Each attempt's status; for one that succeeded, when it was sent (the request is judged then) and what PostgreSQL held after it.</summary>
    public string Describe(double reference) => string.Join(", ", _list.Select(x =>
        $"{x.Instance} {x.Status}" + (x.RolesAfter is null ? "" : $" (sent {Rig.Seconds(x.At - reference)} after the fault; PostgreSQL then: {x.RolesAfter})")));
}

/// <summary>
/// The revocations of issue 16, one fresh user each: logout, kick, kick-all, ban, password change, role removal, role
/// permission removal; and a demoted admin. Everything is done through the admin API (alice) and the user's own API.
/// </summary>
public sealed class VictimSet
{
    public static readonly string[] AllKinds = ["logout", "kick", "kick-all", "ban", "password", "roles", "role-permissions"];

    public List<Victim> Victims { get; } = [];
    public Escalator? Mallory { get; private set; }
    public string Role { get; private set; } = "";

    private static string Short(string kind) => kind switch
    {
        "logout" => "lo", "kick" => "ki", "kick-all" => "ka", "ban" => "ba", "password" => "pw", "roles" => "ro", "role-permissions" => "rp", _ => "mal",
    };

    /// <summary>
    /// Creates the users and logs them in. <paramref name="place"/> (cluster-stale-promotion) must accept the victim's
    /// credential: a session whose keys live on one master. Opaque keys hang off the session, so the user logs in again;
    /// JWT-mode keys hang off the user, so another user is created.
    /// </summary>
    public static async Task<VictimSet> SetUpAsync(Ctx ctx, string tag, IEnumerable<string> kinds, Func<Credential, bool>? place = null)
    {
        var set = new VictimSet { Role = $"frv{tag}" };
        var (a, b, admin) = (ctx.A, ctx.B, ctx.Admin);
        var kindList = kinds.ToList();
        if (kindList.Contains("role-permissions"))
        {
            var created = await ctx.UntilAnsweredAsync(() => a.SendAsync(HttpMethod.Post, "/admin/roles", admin.Bearer,
                new { name = set.Role, permissions = new[] { "reports:read" } }, timeoutSeconds: 30), "create role", 180);
            if (created.Status is not (201 or 409)) throw new RigException($"creating role {set.Role}: {created.Short}");
        }
        var i = 0;
        foreach (var kind in kindList.Append("escalation"))
        {
            var roles = kind switch { "role-permissions" => new[] { set.Role }, "escalation" => ["admin", "reporter"], _ => ["reporter"] };
            Credential? cred = null;
            string username = "";
            for (var attempt = 0; attempt < 20 && cred is null; attempt++)
            {
                var api = i++ % 2 == 0 ? a : b;
                if (attempt == 0 || ctx.O.JwtMode)
                {
                    username = $"fr{tag}{Short(kind)}{(attempt == 0 ? "" : attempt.ToString(CultureInfo.InvariantCulture))}";
                    // Creating a user hashes its password on low-priority threads: slow while the shared cores are busy.
                    var made = await ctx.UntilAnsweredAsync(() => api.SendAsync(HttpMethod.Post, "/admin/users", admin.Bearer,
                        new { username, password = Ctx.UserPassword, roles }, timeoutSeconds: 30), $"create {username}", 180);
                    if (made.Status is not (201 or 409)) throw new RigException($"creating user {username}: {made.Short}");
                }
                var c = await api.LoginAsync(username, Ctx.UserPassword, $"{kind}");
                if (place is null || place(c)) cred = c;
            }
            if (cred is null) throw new RigException($"no {kind} victim whose keys land where the scenario needs them in 20 tries");
            if (kind == "escalation")
            {
                set.Mallory = new Escalator(username, cred);
                continue;
            }
            Credential? other = kind == "password" ? await b.LoginAsync(username, Ctx.UserPassword, "password-other") : null;
            set.Victims.Add(new Victim { Kind = kind, Username = username, Cred = cred, Other = other, Role = kind == "role-permissions" ? set.Role : null });
        }
        return set;
    }

    /// <summary>Every victim works before anything is done (on every probe instance), and the admin is an admin.</summary>
    public async Task AllAcceptedAsync(Ctx ctx)
    {
        foreach (var api in ctx.Probes)
        {
            foreach (var v in Victims)
            {
                var reply = await ctx.UntilAnsweredAsync(() => api.SendAsync(HttpMethod.Get, v.Path, v.Cred.Bearer), $"{v.Kind} before the fault", 20);
                if (reply.Status != 200) throw new RigException($"{v.Kind} victim not accepted on {api.Name} before the fault: {reply.Short}");
            }
            var users = await ctx.UntilAnsweredAsync(() => api.SendAsync(HttpMethod.Get, "/admin/users", Mallory!.Cred.Bearer), "mallory before", 20);
            if (users.Status != 200) throw new RigException($"the admin to be demoted cannot list users on {api.Name} before the fault: {users.Short}");
        }
    }

    /// <summary>Performs every revocation and the demotion, alternating A and B; returns "kind status" for each.</summary>
    public async Task<List<(string Kind, int Status)>> RevokeAsync(Ctx ctx, Func<Victim, bool>? which = null)
    {
        var done = new List<(string, int)>();
        var k = 0;
        foreach (var v in Victims.Where(v => !v.Revoked && (which?.Invoke(v) ?? true)))
        {
            var api = k++ % 2 == 0 ? ctx.A : ctx.B;
            var reply = await RevokeOneAsync(ctx, api, v);
            done.Add((v.Kind, reply.Status));
            if (reply.Ok)
            {
                v.Revoked = true;
                v.RevokedAt = Rig.Now;
            }
        }
        return done;
    }

    private static Task<Reply> RevokeOneAsync(Ctx ctx, Api api, Victim v)
    {
        var admin = ctx.Admin.Bearer;
        return v.Kind switch
        {
            "logout" => Op(ctx, api.SendAsync(HttpMethod.Post, "/auth/logout", v.Cred.Bearer), "logout"),
            "kick" => Op(ctx, api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{v.Cred.SessionId}", admin), "kick"),
            "kick-all" => Op(ctx, api.SendAsync(HttpMethod.Post, $"/admin/users/{v.Cred.UserId}/logout-all", admin), "kick-all"),
            "ban" => Op(ctx, api.SendAsync(HttpMethod.Post, $"/admin/users/{v.Cred.UserId}/ban", admin, new { reason = "fault rig" }), "ban"),
            "password" => Op(ctx, api.SendAsync(HttpMethod.Post, "/auth/password", v.Other!.Bearer,
                new { current_password = Ctx.UserPassword, new_password = "Fault-rig-changed-" + Guid.NewGuid().ToString("N")[..12] }), "password change"),
            "roles" => Op(ctx, api.SendAsync(HttpMethod.Put, $"/admin/users/{v.Cred.UserId}/roles", admin, new { roles = new[] { "user" } }), "role removal"),
            "role-permissions" => Op(ctx, api.SendAsync(HttpMethod.Put, $"/admin/roles/{v.Role}", admin, new { permissions = Array.Empty<string>() }), "role permission removal"),
            _ => throw new ArgumentException(v.Kind),
        };
    }

    private static async Task<Reply> Op(Ctx ctx, Task<Reply> send, string what) => ctx.Op(await send, what);

    public async Task<int> DemoteAsync(Ctx ctx) =>
        ctx.Op(await ctx.B.SendAsync(HttpMethod.Put, $"/admin/users/{Mallory!.Cred.UserId}/roles", ctx.Admin.Bearer, new { roles = new[] { "reporter" } }), "demote the admin").Status;

    /// <summary>Each revoked credential refused on every probe instance (within the L1 bound); what was not, if anything.</summary>
    public async Task<List<string>> UntilRefusedAsync(Ctx ctx, IEnumerable<Api> instances, double seconds = 5)
    {
        var notYet = new List<string>();
        foreach (var api in instances)
        {
            foreach (var v in Victims.Where(v => v.Revoked))
            {
                var deadline = Rig.Now + seconds * 1000;
                Reply reply;
                while (true)
                {
                    reply = ctx.Op(await api.SendAsync(HttpMethod.Get, v.Path, v.Cred.Bearer), $"{v.Kind} after its revocation");
                    if (reply.Status is 401 or 403 || Rig.Now > deadline) break;
                    await Task.Delay(200);
                }
                if (reply.Status is not (401 or 403)) notYet.Add($"{v.Kind} on {api.Name}: {reply.Status}");
            }
        }
        return notYet;
    }

    /// <summary>
    /// The demoted admin tries to give itself <c>admin</c> back on one instance (401/403 expected); what PostgreSQL
    /// then holds is noted when it moved, since every later attempt then rightly succeeds.
    /// </summary>
    public async Task EscalateAsync(Ctx ctx, Api api, Escalations into)
    {
        var reply = await ctx.UntilAnsweredAsync(() => api.SendAsync(HttpMethod.Put, $"/admin/users/{Mallory!.Cred.UserId}/roles", Mallory.Cred.Bearer,
            new { roles = new[] { "admin", "reporter" } }), $"demoted admin re-grants itself admin on {api.Name}", 20);
        var sent = Rig.Now - reply.Ms;
        var roles = reply.Ok ? await MalloryRolesAsync(ctx.O) : null;
        into.Add(api.Name, reply.Status, roles, sent);
    }

    /// <summary>The demoted admin's roles as PostgreSQL holds them.</summary>
    public async Task<string> MalloryRolesAsync(Options o) => await Pg.ScalarAsync(o.Db, $"""
        SELECT coalesce(string_agg(r."Name", ',' ORDER BY r."Name"), '') FROM user_roles ur JOIN roles r ON r."Id" = ur."RoleId"
        WHERE ur."UserId" = {Pg.Literal(Mallory!.Cred.UserId.ToString())};
        """);

    /// <summary>JWT modes: the refresh tokens of revoked sessions, presented once on each instance; the ones that worked.</summary>
    public async Task<List<string>> RefreshRevokedAsync(Ctx ctx, IEnumerable<Api> instances)
    {
        var worked = new List<string>();
        foreach (var api in instances)
        {
            foreach (var v in Victims.Where(v => v.Revoked && !v.RoleKind && v.Cred.Refresh is not null))
            {
                var reply = ctx.Op(await api.RefreshAsync(v.Cred.Refresh!), $"refresh of revoked {v.Kind}");
                if (reply.Status == 200) worked.Add($"{v.Kind} on {api.Name}");
            }
        }
        return worked;
    }
}

/// <summary>
/// Presents every revoked credential on every instance it knows (more can be added, e.g. C once it is up) every
/// ~250 ms, and records each acceptance: a revoked session's credential answered 200 on /api/profile, or a removed
/// role or permission answered 200 on /api/reports.
/// </summary>
public sealed class Prober(Ctx ctx, IReadOnlyList<Victim> victims)
{
    private readonly List<Api> _instances = [.. ctx.Probes];
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    public ConcurrentQueue<(double At, string Instance, string Kind, string Phase)> Accepted { get; } = new();
    public ConcurrentDictionary<string, Counts> PerInstance { get; } = new();
    public string Phase { get; set; } = "";
    /// <summary>The fault's moment: acceptances are reported relative to it.</summary>
    public double Reference { get; set; }
    public int Rounds { get; private set; }
    public ConcurrentDictionary<string, int> RoundsOn { get; } = new();

    public void Add(Api api)
    {
        lock (_instances) _instances.Add(api);
    }

    public void Start() => _loop = Task.Run(async () =>
    {
        while (!_stop.IsCancellationRequested)
        {
            List<Api> now;
            lock (_instances) now = [.. _instances];
            foreach (var api in now)
            {
                foreach (var v in victims.Where(v => v.Revoked))
                {
                    var reply = ctx.Op(await api.SendAsync(HttpMethod.Get, v.Path, v.Cred.Bearer, readBody: false, timeoutSeconds: 5), $"revoked {v.Kind} on {api.Name}");
                    PerInstance.GetOrAdd(api.Name, _ => new Counts()).Add(reply.Status);
                    // When the request was sent: it is judged then, whatever it waits for afterwards.
                    if (reply.Status == 200) Accepted.Enqueue((Rig.Now - reply.Ms, api.Name, v.Kind, Phase));
                }
                RoundsOn.AddOrUpdate(api.Name, 1, (_, n) => n + 1);
            }
            Rounds++;
            try { await Task.Delay(250, _stop.Token); } catch (OperationCanceledException) { }
        }
    });

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        if (_loop is not null) await _loop;
    }

    /// <summary>Per instance: revoked sessions accepted / removed roles granting, over every instance probed.</summary>
    public string Summary(IEnumerable<string> instances, bool roles)
    {
        var list = Accepted.Where(x => IsRole(x.Kind) == roles).ToList();
        return string.Join(", ", instances.Select(i => $"{i} {list.Count(x => x.Instance == i)}")) +
               (list.Count == 0 ? "" : $" ({string.Join("; ", list.GroupBy(x => $"{x.Kind} on {x.Instance} ({x.Phase})").Select(g =>
                   $"{g.Count()}× {g.Key}, sent {Rig.Seconds(g.Min(x => x.At) - Reference)}–{Rig.Seconds(g.Max(x => x.At) - Reference)} after the fault"))})");
    }

    public int Count(bool roles) => Accepted.Count(x => IsRole(x.Kind) == roles);

    private static bool IsRole(string kind) => kind is "roles" or "role-permissions";

    public string Statuses() => string.Join("; ", PerInstance.OrderBy(kv => kv.Key).Select(kv =>
        $"{kv.Key}: {kv.Value.Total} presented, {kv.Value.S200}×200 {kv.Value.S401}×401 {kv.Value.S403}×403 {kv.Value.S503}×503 {kv.Value.NoAnswer}×none {kv.Value.S500 + kv.Value.S502 + kv.Value.S429 + kv.Value.Other}×other"));
}

/// <summary>A closed-loop burst of authenticated GET /api/profile: how much the instances serve, and how fast.</summary>
public static class Burst
{
    public sealed record Result(double Seconds, long Requests, long Ok, double P50, double P99, double Max)
    {
        public double Rps => Requests / Seconds;
        public override string ToString() =>
            $"{Rps:F0} req/s ({Ok} of {Requests} 200), p50 {P50:F1} ms, p99 {P99:F1} ms, max {Max:F0} ms";
    }

    public static async Task<Result> RunAsync(IReadOnlyList<Api> instances, IReadOnlyList<Credential> sessions, int concurrency, double seconds)
    {
        var latencies = new ConcurrentBag<double>();
        long ok = 0;
        var started = Rig.Now;
        var end = started + seconds * 1000;
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            for (var i = w; Rig.Now < end; i += concurrency)
            {
                var reply = await instances[i % instances.Count].ProfileAsync(sessions[i % sessions.Count]);
                latencies.Add(reply.Ms);
                if (reply.Status == 200) Interlocked.Increment(ref ok);
            }
        })).ToList();
        await Task.WhenAll(workers);
        var ms = latencies.Order().ToList();
        double Pct(double p) => ms.Count == 0 ? 0 : ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(p * ms.Count) - 1)];
        return new Result((Rig.Now - started) / 1000, ms.Count, ok, Pct(0.5), Pct(0.99), ms.Count == 0 ? 0 : ms[^1]);
    }
}

public static class Keys
{
    /// <summary>The hash-tag slot of a victim's keys: the session's for Opaque, the user's for the JWT modes (RedisStore.cs).</summary>
    public static int SlotOf(string mode, Credential c) => mode == "Opaque"
        ? Cluster.Slot("{o:" + Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes(c.Bearer))) + "}")
        : Cluster.Slot($"{{u:{c.UserId:N}}}");

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

internal static class HistoryText
{
    public static string Ms(double? ms) => ms is null ? "never" : Rig.Seconds(ms.Value);

    public static string Statuses(IEnumerable<(string Kind, int Status)> done) => string.Join(", ", done.Select(d => $"{d.Kind} {d.Status}"));
}
