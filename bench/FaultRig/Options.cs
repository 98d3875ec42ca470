using System.Globalization;

namespace SessionGate.Bench.FaultRig;

/// <summary>Command line; see <see cref="Usage"/>. scripts/faults passes all of it.</summary>
public sealed class Options
{
    public const string Usage = """
        FaultRig: the driver of scripts/faults (use that script; it starts the servers and the app instances).

          dotnet FaultRig.dll run --scenario SCENARIO --mode Opaque|Blacklist|SessionCache
                --a URL --b URL [--n URL] --out FILE-PREFIX [options]
          dotnet FaultRig.dll report --in DIR --out FILE.md [--header TEXT]

          --a, --b URL            the two app instances under load
          --n URL                 a third instance with its L1 off (Revocation__LocalCacheMaxAge=0): it sees what Redis says
          --c URL                 where an instance started after the fault listens (the hook's app-start-extra C)
          --db NAME               the instances' PostgreSQL database (read through the hook's sql action)
          --redis-port PORT       the standalone Redis's port
          --hook PATH             scripts/faults.d/hook (fault actions: pg-stop, redis-start, node-kill PORT, ...)
          --cluster-ports P,...   the Redis Cluster's node ports (cluster-failover, cluster-stale-promotion)
          --prefix TEXT           the instances' Redis__KeyPrefix
          --rate 40               load requests per second (both instances together)
          --sessions 6            load sessions (one user each, so JWT-mode keys spread over the cluster too)
          --pg-outage 20          seconds PostgreSQL stays down
          --redis-outage 5        seconds the standalone Redis stays down (redis-restart) or frozen (redis-pause)
          --admin-password demo-password-123   acme/alice's password
          --creds FILE            reuse the admin's and the load's credentials saved there by an earlier scenario of the
                                  same mode (each is checked first; logins are slow by design), and save them there
          --logs PREFIX           the instances' logs are PREFIX-A.log, PREFIX-B.log (read for evidence, e.g. deferred sliding writes)
          --restore-after 0       seconds between Redis's mark passing the revocations and the restore (redis-snapshot-restore (a))
          --oom-margin 65536      bytes above used_memory for maxmemory (redis-oom)
          --replay-rows 300000    outbox rows inserted for replay-300k, --replay-tx-rows 1 of them per transaction

        Scenarios: pg-down, redis-restart, redis-pause, cluster-failover, redis-snapshot-restore, redis-oom,
        cluster-stale-promotion, replay-300k (see scripts/faults --help).

        run writes one JSON row per scenario (or part) as FILE-PREFIX-<n>.json; report renders a directory of them.
        Exit code: 0 when every check passed, 1 when one failed, 2 when the rig itself could not run.
        """;

    public string Command { get; init; } = "";
    public string Scenario { get; init; } = "";
    public string Mode { get; init; } = "";
    public Uri A { get; init; } = null!;
    public Uri B { get; init; } = null!;
    public Uri? N { get; init; }
    public string Out { get; init; } = "";
    public string In { get; init; } = "";
    public string Header { get; init; } = "## SessionGate fault rig";
    public string Hook { get; init; } = "scripts/faults.d/hook";
    public IReadOnlyList<int> ClusterPorts { get; init; } = [];
    public string Prefix { get; init; } = "sgf:";
    public double Rate { get; init; } = 40;
    public int Sessions { get; init; } = 6;
    public double PgOutage { get; init; } = 20;
    public double RedisOutage { get; init; } = 5;
    public string AdminPassword { get; init; } = "demo-password-123";
    public string? Logs { get; init; }
    public string? Creds { get; init; }
    public Uri? C { get; init; }
    public string Db { get; init; } = "";
    public int RedisPort { get; init; }
    public double RestoreAfter { get; init; }
    public long OomMargin { get; init; } = 65536;
    public int ReplayRows { get; init; } = 300_000;
    public int ReplayTxRows { get; init; } = 1;

    public static readonly string[] AllScenarios =
        ["pg-down", "redis-restart", "redis-pause", "cluster-failover", "redis-snapshot-restore", "redis-oom", "cluster-stale-promotion", "replay-300k"];

    public bool JwtMode => Mode != "Opaque";

    public static Options Parse(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help") throw new UsageException(null);
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 1; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help") throw new UsageException(null);
            if (!arg.StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length) throw new UsageException($"unexpected argument '{arg}'");
            values[arg[2..]] = args[++i];
        }
        string? Get(string k) => values.Remove(k, out var v) ? v : null;
        double Num(string k, double d) => Get(k) is { } v ? double.Parse(v, CultureInfo.InvariantCulture) : d;
        var o = new Options
        {
            Command = args[0],
            Scenario = Get("scenario") ?? "",
            Mode = Get("mode") ?? "",
            A = Get("a") is { } a ? new Uri(a) : null!,
            B = Get("b") is { } b ? new Uri(b) : null!,
            N = Get("n") is { } n ? new Uri(n) : null,
            Out = Get("out") ?? "",
            In = Get("in") ?? "",
            Header = Get("header") ?? "## SessionGate fault rig",
            Hook = Get("hook") ?? "scripts/faults.d/hook",
            ClusterPorts = Get("cluster-ports") is { } cp ? cp.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList() : [],
            Prefix = Get("prefix") ?? "sgf:",
            Rate = Num("rate", 40),
            Sessions = (int)Num("sessions", 6),
            PgOutage = Num("pg-outage", 20),
            RedisOutage = Num("redis-outage", 5),
            AdminPassword = Get("admin-password") ?? "demo-password-123",
            Logs = Get("logs"),
            Creds = Get("creds"),
            C = Get("c") is { } c ? new Uri(c) : null,
            Db = Get("db") ?? "",
            RedisPort = (int)Num("redis-port", 0),
            RestoreAfter = Num("restore-after", 0),
            OomMargin = (long)Num("oom-margin", 65536),
            ReplayRows = (int)Num("replay-rows", 300_000),
            ReplayTxRows = (int)Num("replay-tx-rows", 1),
        };
        if (values.Count > 0) throw new UsageException($"unknown option --{values.Keys.First()}");
        switch (o.Command)
        {
            case "run":
                if (!AllScenarios.Contains(o.Scenario)) throw new UsageException($"unknown scenario '{o.Scenario}'");
                if (o.Mode is not ("Opaque" or "Blacklist" or "SessionCache")) throw new UsageException($"unknown mode '{o.Mode}'");
                if (o.A is null || o.B is null || o.Out.Length == 0) throw new UsageException("--a, --b and --out are required");
                if (o.Scenario.StartsWith("cluster-", StringComparison.Ordinal) && o.ClusterPorts.Count < 6) throw new UsageException("--cluster-ports needs the 6 node ports");
                if (o.Scenario is "redis-snapshot-restore" or "redis-oom" or "replay-300k" && o.RedisPort == 0) throw new UsageException("--redis-port is required");
                if (o.Scenario is "redis-snapshot-restore" or "redis-oom" or "cluster-stale-promotion" or "replay-300k" && (o.C is null || o.Db.Length == 0))
                    throw new UsageException("--c and --db are required");
                if (o.ReplayRows < 1 || o.ReplayTxRows < 1 || o.ReplayTxRows > o.ReplayRows) throw new UsageException("--replay-rows must be >= 1 and --replay-tx-rows in [1, rows]");
                if (o.Rate is <= 0 or > 200 || o.Sessions is < 1 or > 50) throw new UsageException("--rate must be in (0, 200] and --sessions in [1, 50]");
                break;
            case "report":
                if (o.In.Length == 0 || o.Out.Length == 0) throw new UsageException("--in and --out are required");
                break;
            default:
                throw new UsageException($"unknown command '{o.Command}'");
        }
        return o;
    }
}

public sealed class UsageException(string? message) : Exception(message ?? "");
