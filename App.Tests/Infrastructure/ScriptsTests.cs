using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using StackExchange.Redis;

namespace SessionGate.Tests.Infrastructure;

/// <summary>A fact that needs root: it runs PostgreSQL as the postgres user, as scripts/test itself does.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute()
    {
        if (Environment.UserName != "root" || !File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser"))
            Skip = "needs root and runuser: it starts PostgreSQL as the postgres user (scripts/test runs as root).";
    }
}

/// <summary>
/// What scripts/run and scripts/test ship around the app: they use only servers this checkout started, and keep
/// passwords off command lines.
/// </summary>
public sealed class ScriptsTests
{
    private static readonly string Repository = FindRepository();

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "scripts", "lib.sh"))) return dir.FullName;
        throw new InvalidOperationException("scripts/lib.sh not found above " + AppContext.BaseDirectory);
    }

    private static string PgBin() =>
        Directory.GetDirectories("/usr/lib/postgresql").OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0)
            .Select(d => Path.Combine(d, "bin")).First(d => File.Exists(Path.Combine(d, "initdb")));

    private static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args, IDictionary<string, string?>? env = null,
        string[]? unset = null)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/" };
        foreach (var name in unset ?? []) start.Environment.Remove(name);
        foreach (var (k, v) in env ?? new Dictionary<string, string?>()) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(4));
        return (process.ExitCode, await output + await errors);
    }

    private static Task<(int Code, string Output)> AsPostgresAsync(params string[] args) => RunAsync("runuser", ["-u", "postgres", "--", .. args]);

    /// <summary>A free port in the range scripts/lib.sh scans (below the kernel's ephemeral range).</summary>
    private static int FreeLowPort()
    {
        for (var port = 20000 + Random.Shared.Next(0, 8000); ; port++)
        {
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
            }
        }
    }

    [RootFact]
    public async Task Scripts_run_never_uses_a_postgresql_it_did_not_start_even_one_that_takes_any_password()
    {
        var work = Path.Combine("/tmp", "sg-foreign-" + Guid.NewGuid().ToString("N")[..8]);
        var (foreign, socket, checkout) = (Path.Combine(work, "foreign"), Path.Combine(work, "sock"), Path.Combine(work, "checkout"));
        var bin = PgBin();
        var port = FreeLowPort();
        Directory.CreateDirectory(foreign);
        Directory.CreateDirectory(socket);
        Directory.CreateDirectory(checkout);
        await RunAsync("chown", ["-R", "postgres:", work]);
        await RunAsync("chmod", ["755", work]);
        var env = new Dictionary<string, string?>
        {
            ["SG_ROOT"] = checkout,            // a fresh checkout: nothing of its own runs yet
            ["SG_PG_PORT"] = port.ToString(),  // where it looks first: the foreign server's port
            ["Redis__Configuration"] = "127.0.0.1:1", // no Redis for this test
        };
        string[] unset = ["ConnectionStrings__Postgres", "ConnectionStrings__PostgresOwner", "SG_POSTGRES_ADMIN"];
        try
        {
            // The squatter: its own server on the port scripts/run tries first, trust authentication (any password is
            // taken), and the role names scripts/run uses, with CREATEDB; the previous scripts/lib.sh reused such a server.
            var init = await AsPostgresAsync(Path.Combine(bin, "initdb"), "-D", foreign, "-U", "postgres", "--auth=trust");
            Assert.True(init.Code == 0, init.Output);
            var started = await AsPostgresAsync(Path.Combine(bin, "pg_ctl"), "-D", foreign, "-l", Path.Combine(work, "foreign.log"), "-w", "-t", "60",
                "-o", $"-p {port} -k {socket} -c listen_addresses=127.0.0.1", "start");
            Assert.True(started.Code == 0, started.Output);
            var roles = await AsPostgresAsync(Path.Combine(bin, "psql"), "-X", "-h", socket, "-p", port.ToString(), "-U", "postgres", "-d", "postgres",
                "-c", "CREATE ROLE sessiongate LOGIN CREATEDB", "-c", "CREATE ROLE sessiongate_owner LOGIN CREATEDB", "-c", "CREATE ROLE sessiongate_dev LOGIN CREATEDB");
            Assert.True(roles.Code == 0, roles.Output);

            var services = await RunAsync("bash", [Path.Combine(Repository, "scripts", "run"), "services"], env, unset);
            Assert.True(services.Code == 0, services.Output);
            Assert.Contains($"port {port} is held by a server this checkout did not start (not used)", services.Output, StringComparison.Ordinal);
            var exported = services.Output.Split('\n').Single(l => l.StartsWith("export ConnectionStrings__Postgres=", StringComparison.Ordinal));
            var connection = new NpgsqlConnectionStringBuilder(exported["export ConnectionStrings__Postgres=".Length..].Trim('\''));
            Assert.NotEqual(port, connection.Port);
            Assert.NotEqual("sessiongate", connection.Password);
            Assert.Equal(48, connection.Password!.Length); // per checkout, random (24 bytes in hex)

            // Its own server: the one whose data directory is this checkout's, reachable with the password it made.
            await using (var conn = new NpgsqlConnection(connection.ConnectionString))
            {
                await conn.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT inet_server_port()", conn);
                Assert.Equal(connection.Port, (int)(await command.ExecuteScalarAsync())!);
            }
            var pid = File.ReadLines(Path.Combine(checkout, ".local", "pg", "postmaster.pid")).ToList();
            Assert.Equal(connection.Port.ToString(), pid[3]);
            // Nothing was created on the squatter's server.
            var databases = await AsPostgresAsync(Path.Combine(bin, "psql"), "-X", "-qtA", "-h", socket, "-p", port.ToString(), "-U", "postgres", "-d", "postgres",
                "-c", "SELECT count(*) FROM pg_database WHERE datname = 'sessiongate'");
            Assert.Equal("0", databases.Output.Trim());

            // A second run finds its own server by its pid file and data directory, not by the port.
            var again = await RunAsync("bash", [Path.Combine(Repository, "scripts", "run"), "services"], env, unset);
            Assert.True(again.Code == 0, again.Output);
            Assert.Contains($"reusing this checkout's server on 127.0.0.1:{connection.Port}", again.Output, StringComparison.Ordinal);
        }
        finally
        {
            await RunAsync("bash", [Path.Combine(Repository, "scripts", "run"), "stop"], env, unset);
            await AsPostgresAsync(Path.Combine(bin, "pg_ctl"), "-D", foreign, "-m", "immediate", "-w", "stop");
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task The_redis_that_scripts_test_started_reads_its_password_from_a_private_file()
    {
        var options = ConfigurationOptions.Parse(TestEnvironment.Redis);
        Assert.False(string.IsNullOrEmpty(options.Password), "scripts/test's Redis demands a password");
        options.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        var info = (await redis.GetServer(options.EndPoints[0]).InfoAsync("server")).SelectMany(g => g).ToDictionary(p => p.Key, p => p.Value);
        var file = info["config_file"];
        Assert.False(string.IsNullOrEmpty(file), "started with a config file, not with --requirepass on its command line");
        if (OperatingSystem.IsLinux()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Contains($"requirepass {options.Password}", await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        var cmdline = await File.ReadAllTextAsync($"/proc/{info["process_id"]}/cmdline");
        Assert.DoesNotContain(options.Password!, cmdline, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_postgresql_that_scripts_test_started_commits_durably()
    {
        // A revocation the app answered for must survive a crash of the server.
        await using var conn = new NpgsqlConnection(TestEnvironment.Postgres);
        await conn.OpenAsync();
        await using var command = new NpgsqlCommand("SHOW synchronous_commit", conn);
        Assert.Equal("on", await command.ExecuteScalarAsync());
    }
}
