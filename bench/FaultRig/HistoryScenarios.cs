namespace SessionGate.Bench.FaultRig;

/// <summary>
/// Issue 16: Redis comes back older than it was, or answers reads while it refuses writes. Every scenario revokes
/// one of everything (VictimSet), checks each revocation is refused, makes Redis lose or refuse it, and then presents
/// every revoked credential on A, B, N and on C (started after the fault) every ~250 ms until well after recovery.
/// Recovery is when Redis's marks cover every outbox row again and no instance holds a change pending.
/// </summary>
public static partial class Scenarios
{
    internal static async Task<long> GenerationAsync(Options o) =>
        long.Parse(await Pg.ScalarAsync(o.Db, $"""SELECT "Generation" FROM redis_keyspaces WHERE "Prefix" = {Pg.Literal(o.Prefix)};"""));

    /// <summary>Every probe instance plus C: what each says of the proof, and whether all answer from Redis.</summary>
    private static async Task<(bool All, List<ProofState> States)> ProofStatesAsync(IEnumerable<Api> instances)
    {
        var states = new List<ProofState>();
        foreach (var api in instances) states.Add(await ProofState.ReadAsync(api));
        return (states.All(s => s.AnswersFromRedis), states);
    }

    /// <summary>
    /// Waits (from <paramref name="since"/>) until the marks cover every row, then until every instance holds no
    /// pending change; returns both times (null when not within the timeout) and the last states read.
    /// </summary>
    private static async Task<(double? Marks, double? Answered, string Detail)> WaitRecoveredAsync(Marks marks, Func<IEnumerable<Api>> instances, double since, double timeoutSeconds)
    {
        double? tMarks = null, tAnswered = null;
        var detail = "";
        var deadline = Rig.Now + timeoutSeconds * 1000;
        var nextLog = Rig.Now + 5000;
        while (Rig.Now < deadline)
        {
            if (Rig.Now > nextLog)
            {
                // Slow: say why (a mark behind, or a transaction holding the horizon back).
                nextLog = Rig.Now + 5000;
                Rig.Log($"not recovered yet: {detail}; oldest open transaction: {await OldestTransactionAsync(marks.Options)}");
            }
            try
            {
                var (covered, d, _, _) = await marks.CoverageAsync();
                detail = d;
                if (covered)
                {
                    tMarks ??= Rig.Now - since;
                    var (all, states) = await ProofStatesAsync(instances());
                    detail = d + "; " + string.Join("; ", states);
                    if (all)
                    {
                        tAnswered = Rig.Now - since;
                        break;
                    }
                }
            }
            catch (RigException e)
            {
                detail = e.Message;
            }
            await Task.Delay(200);
        }
        return (tMarks, tAnswered, detail);
    }

    /// <summary>C answers from Redis too (it joined after the fault; its state is read once recovery is seen on A, B, N).</summary>
    private static async Task<(bool Ok, string State)> CFromRedisAsync(Api? c)
    {
        if (c is null) return (true, "no C");
        ProofState state = null!;
        for (var k = 0; k < 60; k++)
        {
            state = await ProofState.ReadAsync(c);
            if (state.AnswersFromRedis) break;
            await Task.Delay(250);
        }
        return (state.AnswersFromRedis, state.ToString());
    }

    /// <summary>The oldest transaction PostgreSQL has open: it holds back the horizon that every mark is (pg_snapshot_xmin).</summary>
    internal static async Task<string> OldestTransactionAsync(Options o)
    {
        try
        {
            var row = (await Pg.QueryAsync(o.Db, """
                SELECT round(extract(epoch FROM now() - xact_start)::numeric, 1), state, coalesce(backend_xid::text, '-'), coalesce(backend_xmin::text, '-'),
                       left(regexp_replace(query, '\s+', ' ', 'g'), 100)
                FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND (backend_xid IS NOT NULL OR backend_xmin IS NOT NULL)
                ORDER BY xact_start LIMIT 1;
                """)).FirstOrDefault();
            return row is null ? "none" : $"{row[0]} s old, {row[1]}, xid {row[2]}, xmin {row[3]}: {row[4]}";
        }
        catch (RigException e)
        {
            return e.Message;
        }
    }

    /// <summary>Starts C (hook app-start-extra C) in the background; the task's value is C once ready, or null.</summary>
    private static Task<Api?> StartCAsync(Ctx ctx, ScenarioResult r, Prober? prober, double since)
    {
        return Task.Run<Api?>(async () =>
        {
            var started = Rig.Now;
            try
            {
                await Rig.HookAsync("app-start-extra", "C");
            }
            catch (RigException e)
            {
                r.Note($"instance C did not start: {e.Message}");
                return null;
            }
            var c = new Api(Api.NewClient(), "C", ctx.O.C!, "acme");
            r.Note($"instance C ready {Rig.Seconds(Rig.Now - since)} after the fault (start took {Rig.Seconds(Rig.Now - started)})");
            prober?.Add(c);
            return c;
        });
    }

    private static void CheckAccepted(ScenarioResult r, Prober prober, IEnumerable<string> instances)
    {
        var names = instances.ToList();
        r.Check("revoked sessions' credentials accepted once refused, per instance: 0", prober.Count(roles: false) == 0,
            prober.Summary(names, roles: false));
        r.Check("removed roles / permissions granting (/api/reports 200) once refused, per instance: 0", prober.Count(roles: true) == 0,
            prober.Summary(names, roles: true));
    }

    private static void CheckEscalation(ScenarioResult r, Escalations attempts, string rolesInPg, double reference)
    {
        r.Check("the demoted admin cannot give itself admin back (PUT /admin/users/{self}/roles 401/403 on every instance)",
            attempts.AllRefused, attempts.Describe(reference));
        r.Check("its roles in PostgreSQL unchanged (reporter)", rolesInPg == "reporter", rolesInPg.Length == 0 ? "(none)" : rolesInPg);
    }

    private static void CheckNo500(ScenarioResult r) => r.Check("no 500 (load and every other request)", r.Load.S500 + r.Ops.S500 == 0, $"{r.Load.S500 + r.Ops.S500}");

    // ================================================================================================================
    // redis-snapshot-restore
    // ================================================================================================================

    public static async Task<List<ScenarioResult>> SnapshotRestoreAsync(Options o)
    {
        var rows = new List<ScenarioResult>();
        var first = Row(o, "redis-snapshot-restore (a) restart from the snapshot");
        var ctx = await SetupAsync(o, first, []);
        var marks = new Marks(o, null);
        ctx.Load.Start();
        try
        {
            rows.Add(await RestoreAsync(ctx, marks, "a", hold: false, prune: false));
            ctx.R = Row(o, "redis-snapshot-restore (b) restart from the snapshot, writer held until C is up");
            rows.Add(await RestoreAsync(ctx, marks, "b", hold: true, prune: false));
            ctx.R = Row(o, "redis-snapshot-restore (c) snapshot older than the outbox reaches");
            rows.Add(await RestoreAsync(ctx, marks, "c", hold: false, prune: true));
        }
        finally
        {
            await ctx.Load.StopAsync();
            await Pg.ReleaseWriterAsync(o);
        }
        return rows;
    }

    private static async Task<ScenarioResult> RestoreAsync(Ctx ctx, Marks marks, string part, bool hold, bool prune)
    {
        var (o, r, a, b) = (ctx.O, ctx.R, ctx.A, ctx.B);
        var t0 = Rig.Now;
        var tag = $"sr{part}";
        var set = await VictimSet.SetUpAsync(ctx, tag, VictimSet.AllKinds);
        await set.AllAcceptedAsync(ctx);
        // The snapshot holds a Redis that has proven everything so far: every victim live, every role as it was.
        if (await marks.WaitCoveredAsync(30) is null) throw new RigException("Redis's mark did not cover the outbox before the snapshot");
        var before = (await marks.ReadAsync())[0];
        var saved = await Rig.RedisAsync(o.RedisPort, 60, "SAVE");
        if (saved?.Trim() != "OK") throw new RigException($"SAVE answered '{saved}'");
        var snapshotMark = (await marks.ReadAsync())[0];
        r.Note($"SAVE: mark {before} before it, {snapshotMark} after it");

        var revoked = await set.RevokeAsync(ctx);
        var demoted = await set.DemoteAsync(ctx);
        r.Check("the revocations and the demotion answered success", revoked.All(x => x.Status is >= 200 and < 300) && demoted == 200,
            HistoryText.Statuses(revoked) + $", demotion {demoted}");
        var notRefused = await set.UntilRefusedAsync(ctx, ctx.Probes);
        r.Check("before the restore: every revocation refused on A, B and N", notRefused.Count == 0, notRefused.Count == 0 ? "all refused" : string.Join("; ", notRefused));
        var prober = new Prober(ctx, set.Victims) { Phase = "before the restore" };
        prober.Start();
        Api? c = null;
        try
        {
            var tRevoked = Rig.Now;
            var passed = await marks.WaitCoveredAsync(30);
            var (_, detail, outbox, _) = await marks.CoverageAsync();
            r.Check("Redis's mark passed every revocation before the restore", passed is not null, $"{HistoryText.Ms(passed)} after the last one; {detail}");
            if (o.RestoreAfter > 0 && part == "a")
            {
                r.Note($"waiting {o.RestoreAfter:F0} s before the restore (FAULT_RESTORE_AFTER)");
                await Task.Delay(TimeSpan.FromSeconds(o.RestoreAfter));
            }
            if (prune)
            {
                // Stands in for a snapshot older than Revocation:OutboxRetention (15 min): the rows after its mark are gone.
                await Pg.QueryAsync(o.Db, $"""UPDATE redis_keyspaces SET "PrunedBelow" = GREATEST("PrunedBelow", {snapshotMark.Horizon + 1}) WHERE "Prefix" = {Pg.Literal(o.Prefix)};""");
                r.Note($"redis_keyspaces.PrunedBelow raised to {snapshotMark.Horizon + 1}, past the snapshot's mark (as if the outbox had been pruned past it)");
            }
            if (hold) await Pg.HoldWriterAsync(o, TimeSpan.FromHours(1));
            var generation = await GenerationAsync(o);
            var logoutVictim = set.Victims.First(v => v.Kind == "logout");
            var (key, field) = Cluster.SessionKey(o.Mode, o.Prefix, logoutVictim.Cred, generation);
            var stateBefore = await Cluster.StateAsync(o.RedisPort, key, field, standalone: true);

            prober.Phase = "after the restore";
            prober.Reference = Rig.Now;
            var tStop = Rig.Now;
            var wall = DateTime.UtcNow;
            await Rig.HookAsync("redis-restore");
            var tUp = Rig.Now;
            var restored = (await marks.ReadAsync())[0];
            var stateAfter = await Cluster.StateAsync(o.RedisPort, key, field, standalone: true);
            var older = restored.Horizon is { } h && h <= outbox.MaxTxId;
            var fault = $"mark {restored} on restart (newest row {outbox.MaxTxId}); logged-out session's entry {stateBefore} before, {stateAfter} after the restart";
            fault += $"; SHUTDOWN NOSAVE at {wall:HH:mm:ss.fff} UTC (to read beside the app logs), up again {Rig.Seconds(tUp - tStop)} later";
            if (hold || prune) r.Check("the fault took effect: Redis came back with the snapshot's older mark", older, fault);
            else r.Note("restored: " + fault);

            // Recovery is watched from the start (on A, B and N; C is looked at once it is up).
            var recovery = hold ? null : WaitRecoveredAsync(marks, () => ctx.Probes, tUp, 120);
            var cTask = StartCAsync(ctx, r, prober, tUp);
            var attempts = new Escalations();
            foreach (var api in ctx.Probes) await set.EscalateAsync(ctx, api, attempts);
            c = await cTask;
            if (c is not null)
            {
                await set.EscalateAsync(ctx, c, attempts);
                var onC = await set.UntilRefusedAsync(ctx, [c], 10);
                r.Check("C, started after the restore, refuses every revocation", onC.Count == 0, onC.Count == 0 ? "all refused" : string.Join("; ", onC));
            }
            r.Check("instance C started after the restore", c is not null, c is null ? "no (see notes)" : "yes");

            var since = tUp;
            if (hold)
            {
                // The instances' own proof has refused everything until now; C has probed a few rounds too.
                var until = Rig.Now + 4000;
                while (Rig.Now < until || (c is not null && prober.RoundsOn.GetValueOrDefault("C") < 5)) await Task.Delay(200);
                var stillOld = (await marks.ReadAsync())[0];
                r.Note($"writer held {Rig.Seconds(Rig.Now - tUp)} after the restart; mark then {stillOld}");
                await Pg.ReleaseWriterAsync(o);
                since = Rig.Now;
                recovery = WaitRecoveredAsync(marks, () => ctx.Probes, since, 120);
            }
            Func<IReadOnlyList<Api>> all = () => c is null ? ctx.Probes : [.. ctx.Probes, c];
            var (tMarks, tAnswered, state) = await recovery!;
            var cFromRedis = await CFromRedisAsync(c);
            long? generationAfter = null;
            if (prune) generationAfter = await GenerationAsync(o);
            // Keep presenting for a while after recovery: a revoked credential must stay refused.
            await Task.Delay(5000);
            prober.Phase = "after recovery";
            await Task.Delay(3000);
            await prober.StopAsync();
            var refreshed = o.JwtMode ? await set.RefreshRevokedAsync(ctx, all()) : [];
            var rolesInPg = await set.MalloryRolesAsync(o);
            var tEnd = Rig.Now;

            Fill(r, ctx.Load, t0, tEnd);
            var instances = all().Select(x => x.Name).ToList();
            CheckAccepted(r, prober, instances);
            if (o.JwtMode) r.Check("refresh tokens of revoked sessions refused on every instance", refreshed.Count == 0, refreshed.Count == 0 ? "0 worked" : string.Join(", ", refreshed));
            CheckEscalation(r, attempts, rolesInPg, tStop);
            if (prune)
                r.Check("the key generation moved (the snapshot cannot be caught up from the outbox)", generationAfter > generation, $"{generation} → {generationAfter}");
            r.Check("recovered: Redis's marks cover every row, no change pending on A, B, N (≤ 120 s) nor later on C", tAnswered is not null && cFromRedis.Ok,
                $"marks {HistoryText.Ms(tMarks)}, A, B, N from Redis {HistoryText.Ms(tAnswered)} after {(hold ? "the writer's release" : "Redis was up")}; {state}; {cFromRedis.State}");
            CheckNo500(r);
            var lastFail = ctx.Load.LastFailureDone(tStop);
            r.Check("load sessions answer 200 again within 10 s of Redis being up", lastFail is null || lastFail - tUp <= 10_000,
                lastFail is null ? "never failed" : $"{Rig.Seconds(Math.Max(0, lastFail.Value - tUp))} after Redis up");
            r.Note("revoked credentials presented every ~250 ms: " + prober.Statuses());
            r.Timings = $"Redis down {Rig.Seconds(tUp - tStop)}, back at mark {restored.Horizon?.ToString() ?? "none"} (newest row {outbox.MaxTxId}); " +
                        (hold ? $"writer held {Rig.Seconds(since - tUp)}; " : "") +
                        (prune ? $"generation {generation} → {generationAfter}; " : "") +
                        $"marks cover every row {HistoryText.Ms(tMarks)}, every instance from Redis {HistoryText.Ms(tAnswered)} after {(hold ? "release" : "Redis up")}; " +
                        $"load all 200 again {(lastFail is null ? "throughout" : Rig.Seconds(Math.Max(0, lastFail.Value - tUp)) + " after Redis up")}; " +
                        $"accepted: revoked {prober.Count(false)}, roles {prober.Count(true)}";
            _ = tRevoked;
            return r;
        }
        finally
        {
            await prober.StopAsync();
            if (hold) await Pg.ReleaseWriterAsync(o);
            await Rig.HookAsync("app-stop", "C");
        }
    }

    // ================================================================================================================
    // redis-oom
    // ================================================================================================================

    public static async Task<List<ScenarioResult>> RedisOomAsync(Options o)
    {
        var r = Row(o, "redis-oom");
        var ctx = await SetupAsync(o, r, []);
        var marks = new Marks(o, null);
        var load = ctx.Load;
        var fill = o.Prefix + "rig:fill";
        ctx.Load.Start();
        Api? c = null;
        Prober? prober = null;
        var freed = false;
        try
        {
            var t0 = Rig.Now;
            // Every kind but the self-service password change (it counts wrong guesses in Redis, so it is refused).
            var set = await VictimSet.SetUpAsync(ctx, "oom", VictimSet.AllKinds);
            await set.AllAcceptedAsync(ctx);
            if (await marks.WaitCoveredAsync(30) is null) throw new RigException("Redis's mark did not cover the outbox before the fault");

            var info = await Rig.RedisAsync(o.RedisPort, "INFO", "memory") ?? "";
            var used = long.Parse(info.Split('\n').First(l => l.StartsWith("used_memory:", StringComparison.Ordinal))["used_memory:".Length..].Trim());
            var tOom = Rig.Now;
            await Rig.RedisAsync(o.RedisPort, "CONFIG", "SET", "maxmemory", (used + o.OomMargin).ToString());
            // Use the margin up at once (a write is refused only once used_memory is past maxmemory).
            await Rig.RedisAsync(o.RedisPort, "SETRANGE", fill, (o.OomMargin * 2).ToString(), "x");
            var refusedWrite = await Rig.RedisAsync(o.RedisPort, "SET", o.Prefix + "rig:probe", "1");
            r.Check("the fault took effect: Redis refuses a write (OOM) and still answers reads", refusedWrite?.Contains("OOM", StringComparison.Ordinal) == true,
                $"maxmemory {used + o.OomMargin} (used_memory {used} + {o.OomMargin}); SET answered: {refusedWrite?.Trim()}");

            var revoked = await set.RevokeAsync(ctx, v => v.Kind != "password");
            var demoted = await set.DemoteAsync(ctx);
            r.Check("the revocations and the demotion answered success while Redis refuses writes", revoked.All(x => x.Status is >= 200 and < 300) && demoted == 200,
                HistoryText.Statuses(revoked) + $", demotion {demoted}");
            var password = set.Victims.First(v => v.Kind == "password");
            var pw = ctx.Op(await ctx.A.SendAsync(HttpMethod.Post, "/auth/password", password.Other!.Bearer,
                new { current_password = Ctx.UserPassword, new_password = "Fault-rig-changed-" + Guid.NewGuid().ToString("N")[..12] }), "password change while OOM");
            var pwVictim = await ctx.UntilAnsweredAsync(() => ctx.B.SendAsync(HttpMethod.Get, "/api/profile", password.Cred.Bearer), "password victim after a refused change");
            r.Check("the self-service password change (needs a Redis write) answers 503 problem+json and changes nothing",
                pw.IsProper503 && pwVictim.Status == 200, $"{pw.Status}{(pw.IsProper503 ? " problem+json" : "")}; its other session then {pwVictim.Status}");

            var notRefused = await set.UntilRefusedAsync(ctx, ctx.Probes);
            r.Check("every revocation refused on A, B and N while Redis refuses writes", notRefused.Count == 0, notRefused.Count == 0 ? "all refused" : string.Join("; ", notRefused));
            prober = new Prober(ctx, set.Victims) { Phase = "Redis refusing writes", Reference = tOom };
            prober.Start();
            var cTask = StartCAsync(ctx, r, prober, tOom);
            var attempts = new Escalations();
            foreach (var api in ctx.Probes) await set.EscalateAsync(ctx, api, attempts);
            c = await cTask;
            r.Check("instance C started while Redis refuses writes", c is not null, c is null ? "no (see notes)" : "yes");
            if (c is not null)
            {
                await set.EscalateAsync(ctx, c, attempts);
                var onC = await set.UntilRefusedAsync(ctx, [c], 10);
                r.Check("C, started while Redis refuses writes, refuses every revocation", onC.Count == 0, onC.Count == 0 ? "all refused" : string.Join("; ", onC));
            }
            Func<IReadOnlyList<Api>> all = () => c is null ? ctx.Probes : [.. ctx.Probes, c];

            // /health/ready: Degraded (HTTP 200) once the oldest unproven row is older than ProofLagWarning (30 s).
            var firstRow = set.Victims.Where(v => v.Revoked).Min(v => v.RevokedAt);
            double? tDegraded = null;
            List<ProofState> degraded = [];
            while (Rig.Now < firstRow + 60_000)
            {
                degraded = (await ProofStatesAsync(all())).States;
                if (degraded.All(s => s.HealthStatus == 200 && s.Health == "Degraded")) { tDegraded = Rig.Now - firstRow; break; }
                await Task.Delay(500);
            }
            var (coveredDuring, during, _, _) = await marks.CoverageAsync();
            var stillRefused = await Rig.RedisAsync(o.RedisPort, "SET", o.Prefix + "rig:probe", "1");
            r.Check("/health/ready says Degraded (HTTP 200) on every instance once the oldest unproven change is older than ProofLagWarning (30 s)",
                tDegraded is >= 29_000, $"{HistoryText.Ms(tDegraded)} after the first revocation; {string.Join("; ", degraded)}");
            r.Check("Redis's marks did not move past the revocations while it refused writes", !coveredDuring,
                $"{during}; a write then: {stillRefused?.Trim()}");

            var tFree = Rig.Now;
            await Rig.RedisAsync(o.RedisPort, "CONFIG", "SET", "maxmemory", "0");
            await Rig.RedisAsync(o.RedisPort, "DEL", fill);
            freed = true;
            prober.Phase = "after maxmemory 0";
            var (tMarks, tAnswered, state) = await WaitRecoveredAsync(marks, all, tFree, 120);
            double? tHealthy = null;
            while (Rig.Now < tFree + 60_000)
            {
                var states = (await ProofStatesAsync(all())).States;
                if (states.All(s => s.HealthStatus == 200 && s.Health == "Healthy")) { tHealthy = Rig.Now - tFree; break; }
                await Task.Delay(250);
            }
            await Task.Delay(5000);
            await prober.StopAsync();
            var refreshed = o.JwtMode ? await set.RefreshRevokedAsync(ctx, all()) : [];
            var rolesInPg = await set.MalloryRolesAsync(o);
            var tEnd = Rig.Now;

            Fill(r, load, t0, tEnd);
            CheckAccepted(r, prober, all().Select(x => x.Name));
            if (o.JwtMode) r.Check("refresh tokens of revoked sessions refused on every instance", refreshed.Count == 0, refreshed.Count == 0 ? "0 worked" : string.Join(", ", refreshed));
            CheckEscalation(r, attempts, rolesInPg, tOom);
            r.Check("recovered after maxmemory 0: marks cover every row, no change pending on any instance (≤ 120 s)", tAnswered is not null,
                $"marks {HistoryText.Ms(tMarks)}, every instance from Redis {HistoryText.Ms(tAnswered)}; {state}");
            r.Check("/health/ready Healthy again on every instance", tHealthy is not null, $"{HistoryText.Ms(tHealthy)} after maxmemory 0");
            CheckNo500(r);
            var whileOom = load.Between(tOom, tFree);
            var bad = whileOom.Where(x => x.Status != 200).ToList();
            r.Check("authenticated load served (200) throughout while Redis refused writes", bad.Count == 0,
                $"{bad.Count} of {whileOom.Count} not 200" + (bad.Count > 0 ? $" ({string.Join(", ", bad.GroupBy(x => x.Status).Select(g => $"{g.Count()}×{g.Key}"))})" : ""));
            r.Note("revoked credentials presented every ~250 ms: " + prober.Statuses());
            r.Timings = $"Redis refused writes {Rig.Seconds(tFree - tOom)}; Degraded {HistoryText.Ms(tDegraded)} after the first revocation; " +
                        $"after maxmemory 0: marks cover every row {HistoryText.Ms(tMarks)}, every instance from Redis {HistoryText.Ms(tAnswered)}, Healthy {HistoryText.Ms(tHealthy)}; " +
                        $"load during OOM {whileOom.Count - bad.Count}/{whileOom.Count} 200 ({Latencies(whileOom)}); accepted: revoked {prober.Count(false)}, roles {prober.Count(true)}";
            return [r];
        }
        finally
        {
            if (prober is not null) await prober.StopAsync();
            if (!freed)
            {
                await Rig.RedisAsync(o.RedisPort, "CONFIG", "SET", "maxmemory", "0");
                await Rig.RedisAsync(o.RedisPort, "DEL", fill);
            }
            await ctx.Load.StopAsync();
            await Rig.HookAsync("app-stop", "C");
        }
    }

    // ================================================================================================================
    // cluster-stale-promotion
    // ================================================================================================================

    public static async Task<List<ScenarioResult>> StalePromotionAsync(Options o)
    {
        var r = Row(o, "cluster-stale-promotion");
        var cluster = new Cluster(o.ClusterPorts);
        if (!await cluster.WaitHealthyAsync(60)) throw new RigException("the Redis Cluster is not healthy before the scenario");
        var ctx = await SetupAsync(o, r, []);
        var marks = new Marks(o, cluster);
        var load = ctx.Load;
        Prober? prober = null;
        ClusterNode? master = null, replica = null;
        var frozen = false;
        load.Start();
        try
        {
            var t0 = Rig.Now;
            // The master that holds the tenant's role set, so the role permission change's key lives there too.
            var tenant = Guid.Parse(await Pg.ScalarAsync(o.Db, """SELECT "Id" FROM tenants WHERE "Slug" = 'acme';"""));
            var roleSlot = Cluster.Slot($"{{t:{tenant:N}}}");
            (master, replica) = await cluster.OwnerAsync(roleSlot);
            var m = master;
            r.Note($"master :{master.Port} (replica :{replica.Port}) holds the tenant's role set (slot {roleSlot}); every victim's keys are placed there");
            var set = await VictimSet.SetUpAsync(ctx, "sp", VictimSet.AllKinds, cred => m.Holds(Keys.SlotOf(o.Mode, cred)));
            await set.AllAcceptedAsync(ctx);
            if (await marks.WaitCoveredAsync(30) is null) throw new RigException("the marks did not cover the outbox before the fault");
            // The replica holds everything so far (its offset caught up with the master's).
            var synced = false;
            for (var k = 0; k < 50 && !synced; k++)
            {
                var mo = Offset(await Rig.RedisAsync(master.Port, "INFO", "replication"), "master_repl_offset");
                var ro = Offset(await Rig.RedisAsync(replica.Port, "INFO", "replication"), "slave_repl_offset");
                synced = mo > 0 && ro >= mo;
                if (!synced) await Task.Delay(100);
            }
            var generation = await GenerationAsync(o);
            var logoutVictim = set.Victims.First(v => v.Kind == "logout");
            var (key, field) = Cluster.SessionKey(o.Mode, o.Prefix, logoutVictim.Cred, generation);
            var onReplicaBefore = await Cluster.StateAsync(replica.Port, key, field);

            // Freeze the replica and cut its link, so nothing that follows reaches it.
            var tStop = Rig.Now;
            await Rig.HookAsync("node-stop", replica.Port.ToString());
            frozen = true;
            cluster.Down.Add(replica.Port);
            var cut = await Rig.RedisAsync(master.Port, "CLIENT", "KILL", "TYPE", "replica");
            var revoked = await set.RevokeAsync(ctx);
            var demoted = await set.DemoteAsync(ctx);
            r.Check("the revocations and the demotion answered success", revoked.All(x => x.Status is >= 200 and < 300) && demoted == 200,
                HistoryText.Statuses(revoked) + $", demotion {demoted}");
            var notRefused = await set.UntilRefusedAsync(ctx, ctx.Probes);
            r.Check("every revocation refused on A, B and N before the failover", notRefused.Count == 0, notRefused.Count == 0 ? "all refused" : string.Join("; ", notRefused));
            prober = new Prober(ctx, set.Victims) { Phase = "replica frozen", Reference = tStop };
            prober.Start();
            var tRevoked = Rig.Now;
            double? passed = null;
            var masterMark = new MarkRead("", null, null);
            OutboxState outbox = null!;
            while (Rig.Now < tRevoked + 45_000)
            {
                outbox = await marks.OutboxAsync();
                masterMark = await marks.ReadNodeAsync(master);
                if (masterMark.Generation == outbox.Generation && masterMark.Horizon > outbox.MaxTxId) { passed = Rig.Now - tRevoked; break; }
                await Task.Delay(200);
            }
            var onMaster = await Cluster.StateAsync(master.Port, key, field);
            r.Check("the master's mark passed every revocation while its replica was cut off", passed is not null,
                $"{HistoryText.Ms(passed)}; master {masterMark} (newest row {outbox.MaxTxId}); replica link cut ({cut?.Trim()} killed), replica frozen");

            await Rig.HookAsync("node-kill", master.Port.ToString());
            cluster.Down.Add(master.Port);
            await Rig.HookAsync("node-cont", replica.Port.ToString());
            frozen = false;
            cluster.Down.Remove(replica.Port);
            var tKill = Rig.Now;
            r.Note($"master SIGKILLed, replica thawed at {DateTime.UtcNow:HH:mm:ss.fff} UTC (to read beside the app logs)");
            prober.Phase = "after the promotion";
            prober.Reference = tKill;
            string? takeover = null;
            for (var k = 0; k < 20 && takeover?.Trim() != "OK"; k++)
            {
                takeover = await Rig.RedisAsync(replica.Port, "CLUSTER", "FAILOVER", "TAKEOVER");
                if (takeover?.Trim() != "OK") await Task.Delay(250);
            }
            double? tP = null;
            while (Rig.Now < tKill + 20_000)
            {
                if (await cluster.RoleAsync(replica.Port) == "master") { tP = Rig.Now; break; }
                await Task.Delay(50);
            }
            if (tP is null) throw new RigException($"CLUSTER FAILOVER TAKEOVER on :{replica.Port} answered '{takeover}' and it did not become a master");
            var onPromoted = await Cluster.StateAsync(replica.Port, key, field);
            var promotedNode = (await cluster.NodesAsync()).First(n => n.Port == replica.Port);
            var promotedMark = await marks.ReadNodeAsync(promotedNode);
            var stale = promotedMark.Horizon is null || promotedMark.Horizon <= outbox.MaxTxId;
            r.Check("the fault took effect: the promoted replica lacks the revocations (older mark, the logged-out session live)", stale && onPromoted is "live" or "not-revoked" or "missing",
                $"promoted mark {promotedMark} vs newest row {outbox.MaxTxId}; logged-out session: {onReplicaBefore} on the replica before, {onMaster} on the master after the logout, {onPromoted} on the promoted replica");

            // Recovery is watched from the promotion on (A, B and N; C once it is up), and the lost tombstone too.
            var promotedAt = tP.Value;
            var recovery = WaitRecoveredAsync(marks, () => ctx.Probes, promotedAt, 120);
            var promotedPort = replica.Port;
            var restoredTask = Task.Run(async () =>
            {
                while (Rig.Now < promotedAt + 120_000)
                {
                    if (await Cluster.StateAsync(promotedPort, key, field) is "tombstone" or "revoked") return (double?)(Rig.Now - promotedAt);
                    await Task.Delay(100);
                }
                return null;
            });
            var cTask = StartCAsync(ctx, r, prober, tP.Value);
            var attempts = new Escalations();
            foreach (var api in ctx.Probes) await set.EscalateAsync(ctx, api, attempts);
            var c = await cTask;
            if (c is not null)
            {
                await set.EscalateAsync(ctx, c, attempts);
                var onC = await set.UntilRefusedAsync(ctx, [c], 10);
                r.Check("C, started after the promotion, refuses every revocation", onC.Count == 0, onC.Count == 0 ? "all refused" : string.Join("; ", onC));
            }
            r.Check("instance C started after the promotion", c is not null, c is null ? "no (see notes)" : "yes");
            Func<IReadOnlyList<Api>> all = () => c is null ? ctx.Probes : [.. ctx.Probes, c];
            var (tMarks, tAnswered, state) = await recovery;
            var cFromRedis = await CFromRedisAsync(c);
            var tRestored = await restoredTask;
            await Task.Delay(5000);
            prober.Phase = "after recovery";
            await Task.Delay(3000);
            await prober.StopAsync();
            var refreshed = o.JwtMode ? await set.RefreshRevokedAsync(ctx, all()) : [];
            var rolesInPg = await set.MalloryRolesAsync(o);

            await Rig.HookAsync("node-start", master.Port.ToString());
            cluster.Down.Remove(master.Port);
            var healthy = await cluster.WaitHealthyAsync(90);
            await Task.Delay(1000);
            var tEnd = Rig.Now;

            Fill(r, load, t0, tEnd);
            CheckAccepted(r, prober, all().Select(x => x.Name));
            if (o.JwtMode) r.Check("refresh tokens of revoked sessions refused on every instance", refreshed.Count == 0, refreshed.Count == 0 ? "0 worked" : string.Join(", ", refreshed));
            CheckEscalation(r, attempts, rolesInPg, tKill);
            r.Check("recovered: every master's mark covers every row, no change pending on A, B, N (≤ 120 s) nor later on C", tAnswered is not null && cFromRedis.Ok,
                $"marks {HistoryText.Ms(tMarks)}, A, B, N from Redis {HistoryText.Ms(tAnswered)} after the promotion; the logged-out session's tombstone back {HistoryText.Ms(tRestored)}; {state}; {cFromRedis.State}");
            CheckNo500(r);
            r.Check("cluster healthy again (old master a synced replica)", healthy, healthy ? "yes" : "no within 90 s");
            var lastFail = load.LastFailureDone(tKill);
            r.Note("revoked credentials presented every ~250 ms: " + prober.Statuses());
            r.Timings = $"replica cut off {Rig.Seconds(tKill - tStop)}; promoted {Rig.Seconds(tP.Value - tKill)} after SIGKILL + TAKEOVER at mark {promotedMark.Horizon?.ToString() ?? "none"} (newest row {outbox.MaxTxId}); " +
                        $"marks cover every row {HistoryText.Ms(tMarks)}, every instance from Redis {HistoryText.Ms(tAnswered)} after the promotion; " +
                        $"load all 200 again {(lastFail is null ? "throughout" : Rig.Seconds(Math.Max(0, lastFail.Value - tKill)) + " after SIGKILL")}; accepted: revoked {prober.Count(false)}, roles {prober.Count(true)}";
            _ = t0;
            return [r];
        }
        finally
        {
            if (prober is not null) await prober.StopAsync();
            if (frozen && replica is not null) await Rig.HookAsync("node-cont", replica.Port.ToString());
            await load.StopAsync();
            await Rig.HookAsync("app-stop", "C");
        }
    }

    private static long Offset(string? info, string name)
    {
        var line = info?.Split('\n').FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal));
        return line is not null && long.TryParse(line[(name.Length + 1)..].Trim(), out var v) ? v : -1;
    }

    // ================================================================================================================
    // replay-300k
    // ================================================================================================================

    public static async Task<List<ScenarioResult>> ReplayAsync(Options o)
    {
        var r = Row(o, $"replay-300k ({o.ReplayRows:N0} rows, {o.ReplayTxRows} per transaction)");
        var ctx = await SetupAsync(o, r, []);
        var marks = new Marks(o, null);
        var load = ctx.Load;
        Prober? prober = null;
        var held = false;
        var refusing = false;
        load.Start();
        try
        {
            var t0 = Rig.Now;
            var set = await VictimSet.SetUpAsync(ctx, "rp", VictimSet.AllKinds);
            await set.AllAcceptedAsync(ctx);
            if (await marks.WaitCoveredAsync(30) is null) throw new RigException("the marks did not cover the outbox before the scenario");
            var sessions = load.Sessions;
            var tBase = Rig.Now;
            await Task.Delay(8000);
            var baseLoad = load.Between(tBase, Rig.Now);
            var burstBefore = await Burst.RunAsync([ctx.A, ctx.B], sessions, 8, 5);
            r.Note($"before: steady load {Latencies(baseLoad)} over {baseLoad.Count} requests; closed-loop burst (8 at a time, 5 s) {burstBefore}");

            // The writer's lease held: nothing is applied again, no mark moves; the rows pile up.
            await Pg.HoldWriterAsync(o, TimeSpan.FromHours(2));
            held = true;
            var tInsert = Rig.Now;
            var insert = Task.Run(() => Pg.QueryAsync(o.Db, InsertSql(o), 3600));
            // The real revocations among the rows, with Redis refusing writes: only the outbox holds them.
            await Task.Delay(3000);
            await Rig.RedisAsync(o.RedisPort, "CONFIG", "SET", "min-replicas-to-write", "1");
            refusing = true;
            var half = set.Victims.Take(set.Victims.Count / 2).Select(v => v.Kind).ToHashSet();
            var among = await set.RevokeAsync(ctx, v => half.Contains(v.Kind));
            await insert;
            var insertTook = Rig.Now - tInsert;
            var after = await set.RevokeAsync(ctx);
            var demoted = await set.DemoteAsync(ctx);
            await Rig.RedisAsync(o.RedisPort, "CONFIG", "SET", "min-replicas-to-write", "0");
            refusing = false;
            var done = among.Concat(after).ToList();
            // The password change counts guesses in Redis: while Redis refused writes it answers 503 (then it is done after).
            r.Check("the real revocations and the demotion answered success (among the rows and after them, Redis refusing writes)",
                done.All(x => x.Status is >= 200 and < 300 or 503) && set.Victims.All(v => v.Revoked || v.Kind == "password") && demoted == 200,
                HistoryText.Statuses(done) + $", demotion {demoted}");
            if (set.Victims.Any(v => !v.Revoked))
            {
                var late = await set.RevokeAsync(ctx);
                r.Note("revoked once Redis took writes again: " + HistoryText.Statuses(late));
            }
            var outbox = await marks.OutboxAsync();
            r.Note($"{o.ReplayRows:N0} rows inserted in {Rig.Seconds(insertTook)}; outbox now {outbox.Rows:N0} rows of this key generation; newest {outbox.MaxTxId}");
            var notRefused = await set.UntilRefusedAsync(ctx, ctx.Probes);
            r.Check("every real revocation refused on A, B and N with the rows pending", notRefused.Count == 0, notRefused.Count == 0 ? "all refused" : string.Join("; ", notRefused));
            prober = new Prober(ctx, set.Victims) { Phase = "rows pending, writer held", Reference = tInsert };
            prober.Start();
            var tC = Rig.Now;
            var c = await StartCAsync(ctx, r, prober, tC);
            r.Check("instance C started on the pending rows", c is not null, c is null ? "no (see notes)" : "yes");
            var attempts = new Escalations();
            foreach (var api in ctx.Probes) await set.EscalateAsync(ctx, api, attempts);
            if (c is not null)
            {
                await set.EscalateAsync(ctx, c, attempts);
                var onC = await set.UntilRefusedAsync(ctx, [c], 20);
                r.Check("C refuses every real revocation", onC.Count == 0, onC.Count == 0 ? "all refused" : string.Join("; ", onC));
            }
            Func<IReadOnlyList<Api>> all = () => c is null ? ctx.Probes : [.. ctx.Probes, c];
            var pendingStates = (await ProofStatesAsync(all())).States;
            r.Note("with the rows pending: " + string.Join("; ", pendingStates));
            var tPendingLoad = Rig.Now;
            await Task.Delay(8000);
            var pendingLoad = load.Between(tPendingLoad, Rig.Now);
            var burstPending = await Burst.RunAsync([ctx.A, ctx.B], sessions, 8, 5);

            var tRelease = Rig.Now;
            await Pg.ReleaseWriterAsync(o);
            held = false;
            prober.Phase = "replay";
            // Serve a burst while the replay runs.
            var burstDuring = await Burst.RunAsync([ctx.A, ctx.B], sessions, 8, 5);
            var backlogAfterBurst = (await ProofStatesAsync(all())).States;
            var (tMarks, tAnswered, state) = await WaitRecoveredAsync(marks, all, tRelease, 1800);
            var tCovered = tRelease + (tMarks ?? (Rig.Now - tRelease));
            var replayLoad = load.Between(tRelease, tCovered);
            await Task.Delay(5000);
            prober.Phase = "after the replay";
            await Task.Delay(3000);
            await prober.StopAsync();
            var refreshed = o.JwtMode ? await set.RefreshRevokedAsync(ctx, all()) : [];
            var rolesInPg = await set.MalloryRolesAsync(o);
            var tEnd = Rig.Now;

            Fill(r, load, t0, tEnd);
            CheckAccepted(r, prober, all().Select(x => x.Name));
            if (o.JwtMode) r.Check("refresh tokens of revoked sessions refused on every instance", refreshed.Count == 0, refreshed.Count == 0 ? "0 worked" : string.Join(", ", refreshed));
            CheckEscalation(r, attempts, rolesInPg, tInsert);
            var rate = tMarks is null ? 0 : outbox.Rows / (tMarks.Value / 1000);
            r.Check("replayed: the marks cover every row, no change pending on any instance", tAnswered is not null,
                $"marks {HistoryText.Ms(tMarks)} ({rate:N0} rows/s), every instance from Redis {HistoryText.Ms(tAnswered)} after the release; {state}");
            CheckNo500(r);
            var bad = load.Between(tInsert, tCovered).Where(x => x.Status != 200).ToList();
            r.Check("authenticated load served (200) while the rows were pending and replayed", bad.Count == 0,
                $"{bad.Count} not 200" + (bad.Count > 0 ? $" ({string.Join(", ", bad.GroupBy(x => x.Status).Select(g => $"{g.Count()}×{g.Key}"))})" : ""));
            r.Check("the burst during the replay was served (200)", burstDuring.Ok == burstDuring.Requests, burstDuring.ToString());
            r.Note($"steady load: before {Latencies(baseLoad)}; rows pending {Latencies(pendingLoad)}; during the replay {Latencies(replayLoad)} ({replayLoad.Count} requests)");
            r.Note($"closed-loop burst: before {burstBefore}; rows pending (writer held) {burstPending}; during the replay {burstDuring} ({burstDuring.Rps / Math.Max(1, burstBefore.Rps):F2}× of before); after it: {string.Join("; ", backlogAfterBurst)}");
            r.Note("revoked credentials presented every ~250 ms: " + prober.Statuses());
            r.Timings = $"{outbox.Rows:N0} rows pending (inserted in {Rig.Seconds(insertTook)}); replay: marks cover every row {HistoryText.Ms(tMarks)} after the release ({rate:N0} rows/s), " +
                        $"every instance from Redis {HistoryText.Ms(tAnswered)}; steady load p50 before/during {P50(baseLoad)}/{P50(replayLoad)} ms; " +
                        $"burst {burstDuring.Rps:F0} vs {burstBefore.Rps:F0} req/s before ({burstDuring.Rps / Math.Max(1, burstBefore.Rps):F2}×); accepted: revoked {prober.Count(false)}, roles {prober.Count(true)}";
            return [r];
        }
        finally
        {
            if (prober is not null) await prober.StopAsync();
            if (refusing) await Rig.RedisAsync(o.RedisPort, "CONFIG", "SET", "min-replicas-to-write", "0");
            if (held) await Pg.ReleaseWriterAsync(o);
            await load.StopAsync();
            await Rig.HookAsync("app-stop", "C");
        }
    }

    private static string P50(List<Rec> recs) => recs.Count == 0 ? "–" : recs.Select(x => x.Ms).Order().ElementAt(recs.Count / 2).ToString("F0");

    /// <summary>
    /// Well-formed sessions.revoked rows for random sessions (App/Sessions/RevocationEvent.cs, snake_case), each
    /// transaction committing <see cref="Options.ReplayTxRows"/> of them with the TxId default, as many DELETE
    /// /auth/sessions/{id} would.
    /// </summary>
    private static string InsertSql(Options o) => $"""
        DO $$
        DECLARE i int := 0;
        BEGIN
          WHILE i < {o.ReplayRows} LOOP
            INSERT INTO outbox ("Kind", "Payload", "CreatedAt", "Attempts")
            SELECT 'sessions.revoked', jsonb_build_object('reason', 'logged-out', 'sessions', jsonb_build_array(jsonb_build_object(
                     'id', gen_random_uuid(), 'user_id', gen_random_uuid(),
                     'secret_hash', encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'base64'),
                     'absolute_expires_at', now() + interval '12 hours',
                     'jti', replace(gen_random_uuid()::text, '-', ''), 'jti_expires_at', now() + interval '16 minutes'))),
                   now(), 0
            FROM generate_series(1, LEAST({o.ReplayTxRows}, {o.ReplayRows} - i));
            i := i + {o.ReplayTxRows};
            COMMIT;
          END LOOP;
        END $$;
        """;
}
