using System.Text.Json;
using SessionGate.Bench.FaultRig;

// The driver of scripts/faults. Progress goes to stderr; rows go to the --out files.
Options o;
try
{
    o = Options.Parse(args);
}
catch (UsageException e)
{
    if (e.Message.Length > 0) Console.Error.WriteLine($"FaultRig: {e.Message}");
    Console.Error.WriteLine(Options.Usage);
    return e.Message.Length > 0 ? 2 : 0;
}

if (o.Command == "report")
{
    var rows = Report.Load(o.In);
    var md = Report.Render(rows, o.Header.Replace("\\n", "\n"));
    File.WriteAllText(o.Out, md);
    Console.Write(md);
    return rows.Any(r => r.Error is not null || r.Checks.Any(k => !k.Ok)) ? 1 : 0;
}

Rig.Hook = o.Hook;
List<ScenarioResult> results;
try
{
    results = o.Scenario switch
    {
        "pg-down" => await Scenarios.PgDownAsync(o),
        "redis-restart" or "redis-pause" => await Scenarios.RedisRestartAsync(o),
        "redis-snapshot-restore" => await Scenarios.SnapshotRestoreAsync(o),
        "redis-oom" => await Scenarios.RedisOomAsync(o),
        "cluster-stale-promotion" => await Scenarios.StalePromotionAsync(o),
        "replay-300k" => await Scenarios.ReplayAsync(o),
        _ => await Scenarios.ClusterFailoverAsync(o),
    };
}
catch (Exception e) when (e is RigException or HttpRequestException or InvalidOperationException or IOException)
{
    Console.Error.WriteLine($"FaultRig: {o.Mode} / {o.Scenario} could not run: {e.Message}");
    results = [new ScenarioResult { Mode = o.Mode, Scenario = o.Scenario, Error = e.Message }];
}
for (var i = 0; i < results.Count; i++)
    File.WriteAllText($"{o.Out}-{i}.json", JsonSerializer.Serialize(results[i], ScenarioResult.Json));
return results.Any(r => r.Error is not null) ? 2 : results.Any(r => r.Checks.Any(k => !k.Ok)) ? 1 : 0;
