using System.Globalization;

namespace SessionGate.Bench.Scale;

/// <summary>
/// The scale bench's tool. Each command prints its figures as <c>key=value</c> lines on stdout (bench/scale.sh
/// parses them) and its progress on stderr.
/// </summary>
public static class Program
{
    public const string Usage = """
        Scale <command> [--option value ...]

        Seeding (through the app's own session code; start the app once first, so it migrates and creates its keys):
          seed      --postgres CS --redis CFG [--prefix sg:] --add N --credentials FILE
                    [--tenants 100] [--users 100000] [--big-share 0.5] [--chunk 50000]
                    [--idle-timeout 02:00:00] [--absolute-timeout 12:00:00] [--random-seed 42]
                    Creates the tenants, roles and users on the first call, then N more live sessions spread over
                    the users (PostgreSQL COPY, then Redis entries exactly as the app writes them). Appends each
                    session id to FILE.
          heavy     --postgres CS --redis CFG [--prefix sg:] --count 1000 [--credentials FILE]
                    Opens COUNT more sessions for the heavy user (scale-000/heavy).
          sample    --from FILE --out PATH=N [--out PATH=N ...] [--random-seed 7]
                    Disjoint random samples of the lines of FILE.

        Measuring:
          kickall   --postgres CS --redis CFG [--prefix sg:] --base URL --bearer TOKEN [--tenant scale-000]
                    [--rounds 5] [--count 1000] [--pause 00:00:04]
                    Per round: COUNT sessions for the heavy user, then POST /admin/users/{id}/logout-all, timed,
                    then checks that PostgreSQL, Redis and the app all say they ended. One extra warm-up round.
          http-time --bearer TOKEN [--rounds 30] [--warmup 3] --url LABEL=URL [--url LABEL=URL ...]
                    GETs the URLs in turn (keep-alive), each must answer 200; median/p90/min/max ms per label.
          create-users --base URL --bearer TOKEN --tenant SLUG --names a,b,c --password P [--roles user] [--parallel 2]
                    POST /admin/users for each name (201, or 409 when it exists).
          sliding-capacity --postgres CS --mode batched|single [--seconds 10] [--batch 2500] [--connections 1]
                    [--ids 100000] [--idle-timeout 02:00:00]
                    Sliding-expiry writes straight to PostgreSQL: the app's batched UPDATE ... FROM unnest, or one
                    UPDATE per session as the previous design did. Rows/s, statements/s, WAL bytes and backend CPU per row.
          pbkdf2    [--count 20]
                    CPU per password check (the app's PasswordHasher at its iteration count), on one thread.
        """;

    public static async Task<int> Main(string[] argv)
    {
        if (argv.Length == 0 || argv[0] is "-h" or "--help" or "help")
        {
            Console.Out.WriteLine(Usage);
            return argv.Length == 0 ? 2 : 0;
        }
        try
        {
            var args = Args.Parse(argv);
            return args.Command switch
            {
                "seed" => await Seeder.SeedAsync(args),
                "heavy" => await Seeder.HeavyAsync(args),
                "sample" => Sampler.Run(args),
                "kickall" => await KickAll.RunAsync(args),
                "http-time" => await HttpTiming.RunAsync(args),
                "create-users" => await HttpTiming.CreateUsersAsync(args),
                "sliding-capacity" => await SlidingCapacity.RunAsync(args),
                "pbkdf2" => Pbkdf2.Run(args),
                _ => throw new UsageException($"unknown command '{args.Command}'"),
            };
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"ERROR: {e.Message}\n\n{Usage}");
            return 2;
        }
        catch (BenchException e)
        {
            Console.Error.WriteLine($"ERROR: {e.Message}");
            return 1;
        }
    }

    /// <summary>Progress and notes, on stderr.</summary>
    public static void Log(string message) => Console.Error.WriteLine($"    [scale] {message}");

    /// <summary>A figure for the script, on stdout.</summary>
    public static void Emit(string key, object value) =>
        Console.Out.WriteLine($"{key}={Convert.ToString(value, CultureInfo.InvariantCulture)}");
}

public sealed class UsageException(string message) : Exception(message);

/// <summary>The run found something wrong (a refused request, a check that failed).</summary>
public sealed class BenchException(string message) : Exception(message);

/// <summary><c>command --name value ...</c>; a name may repeat.</summary>
public sealed class Args
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);

    public required string Command { get; init; }

    public static Args Parse(string[] argv)
    {
        var args = new Args { Command = argv[0] };
        for (var i = 1; i < argv.Length; i++)
        {
            var name = argv[i];
            if (!name.StartsWith("--", StringComparison.Ordinal) || name.Length < 3) throw new UsageException($"expected --option, got '{name}'");
            if (i + 1 >= argv.Length) throw new UsageException($"{name} needs a value");
            var key = name[2..];
            if (!args._values.TryGetValue(key, out var list)) args._values[key] = list = [];
            list.Add(argv[++i]);
        }
        return args;
    }

    public string Required(string name) =>
        _values.TryGetValue(name, out var v) ? v[^1] : throw new UsageException($"--{name} is required for {Command}");

    public string? Optional(string name) => _values.TryGetValue(name, out var v) ? v[^1] : null;

    public string String(string name, string fallback) => Optional(name) ?? fallback;

    public IReadOnlyList<string> All(string name) => _values.TryGetValue(name, out var v) ? v : [];

    public int Int(string name, int fallback) =>
        Optional(name) is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;

    public double Double(string name, double fallback) =>
        Optional(name) is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : fallback;

    public TimeSpan Time(string name, TimeSpan fallback) =>
        Optional(name) is { } s ? TimeSpan.Parse(s, CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Medians and percentiles of a set of timings.</summary>
public static class Stats
{
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var lo = (int)Math.Floor(rank);
        var hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    public static double Median(IReadOnlyList<double> values) => Percentile(values, 50);

    public static string Ms(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);
}
