using System.Globalization;

namespace SessionGate.Bench.Propagation;

/// <summary>Command line; see <see cref="Usage"/>.</summary>
public sealed class Options
{
    public const string Usage = """
        Propagation: how fast a revocation made on SessionGate instance A is refused on instance B.

          dotnet Propagation.dll --a http://127.0.0.1:18180 --b http://127.0.0.1:18183 [options]

          --a URL, --b URL      the two instances (same PostgreSQL and Redis)
          --tenant acme --admin alice --admin-password demo-password-123
                                a tenant admin holding users:write and sessions:kick
          --count 200           revocations of each kind in the first pass
          --cut-count N         revocations of each kind in the "subscription cut" pass (default: --count; 0 skips it)
          --kinds logout,kick,kick-all,ban,roles,password
          --redis HOST:PORT     the Redis both instances use (needed by the cut pass)
          --redis-cli PATH      redis-cli (default: redis-cli)
          --bound 2000          ms after A answered; B accepting later than this is counted
          --timeout 5000        ms after A answered before one revocation counts as never refused
          --give-up 5           stop a kind after this many revocations in a row that B never refused
          --pool 16             test users per batch (logins of a batch run in parallel, before it is measured)
          --parallel 3          logins at once while preparing a batch
          --label TEXT          first column of the table (e.g. the Auth__Mode)

        Prints a markdown table on stdout (progress on stderr). Exit code 1 when a pass could not run.
        """;

    public required Uri A { get; init; }
    public required Uri B { get; init; }
    public string Tenant { get; init; } = "acme";
    public string Admin { get; init; } = "alice";
    public string AdminPassword { get; init; } = "demo-password-123";
    public int Count { get; init; } = 200;
    public int CutCount { get; init; } = -1;
    public IReadOnlyList<string> Kinds { get; init; } = AllKinds;
    public string? RedisHost { get; init; }
    public int RedisPort { get; init; }
    public string RedisCli { get; init; } = "redis-cli";
    public TimeSpan Bound { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);
    public int Pool { get; init; } = 16;
    public int Parallel { get; init; } = 3;
    public int GiveUp { get; init; } = 5;
    public string Label { get; init; } = "";

    public static readonly string[] AllKinds = ["logout", "kick", "kick-all", "ban", "roles", "password"];

    public int EffectiveCutCount => CutCount < 0 ? Count : CutCount;

    public static Options Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help") throw new UsageException(null);
            if (!arg.StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length) throw new UsageException($"unexpected argument '{arg}'");
            values[arg[2..]] = args[++i];
        }
        string? Get(string name) => values.Remove(name, out var v) ? v : null;
        int Int(string name, int fallback, int min)
        {
            var text = Get(name);
            if (text is null) return fallback;
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min)
                throw new UsageException($"--{name} must be an integer >= {min}");
            return v;
        }
        Uri Url(string name)
        {
            var text = Get(name) ?? throw new UsageException($"--{name} is required");
            if (!Uri.TryCreate(text.TrimEnd('/') + "/", UriKind.Absolute, out var uri)) throw new UsageException($"--{name} is not a URL");
            return uri;
        }

        var a = Url("a");
        var b = Url("b");
        var kinds = (Get("kinds") ?? string.Join(',', AllKinds)).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (kinds.FirstOrDefault(k => !AllKinds.Contains(k)) is { } unknown) throw new UsageException($"unknown kind '{unknown}'");
        string? host = null;
        var port = 0;
        if (Get("redis") is { } redis)
        {
            var colon = redis.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(redis[(colon + 1)..], CultureInfo.InvariantCulture, out port)) throw new UsageException("--redis must be HOST:PORT");
            host = redis[..colon];
        }
        var options = new Options
        {
            A = a,
            B = b,
            Tenant = Get("tenant") ?? "acme",
            Admin = Get("admin") ?? "alice",
            AdminPassword = Get("admin-password") ?? "demo-password-123",
            Count = Int("count", 200, 1),
            CutCount = Int("cut-count", -1, 0),
            Kinds = kinds,
            RedisHost = host,
            RedisPort = port,
            RedisCli = Get("redis-cli") ?? "redis-cli",
            Bound = TimeSpan.FromMilliseconds(Int("bound", 2000, 0)),
            Timeout = TimeSpan.FromMilliseconds(Int("timeout", 5000, 1)),
            Pool = Int("pool", 16, 1),
            Parallel = Int("parallel", 3, 1),
            GiveUp = Int("give-up", 5, 1),
            Label = Get("label") ?? "",
        };
        if (values.Count > 0) throw new UsageException($"unknown option --{values.Keys.First()}");
        if (options.EffectiveCutCount > 0 && options.RedisHost is null) throw new UsageException("the cut pass needs --redis HOST:PORT (or --cut-count 0)");
        return options;
    }
}

public sealed class UsageException(string? message) : Exception(message ?? "help")
{
    public bool IsHelp { get; } = message is null;
}
