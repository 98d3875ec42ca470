using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// A Redis server of one test class's own (the redis-server that scripts/test installs), so a test can break it
/// (refuse writes, cut subscribers, flush, restart) without touching the Redis other tests share.
/// </summary>
public sealed class PrivateRedis : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sg-redis-" + Guid.NewGuid().ToString("N")[..8]);
    private Process? _process;
    private ConnectionMultiplexer? _admin;

    public int Port { get; private set; }
    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<PrivateRedis> StartAsync()
    {
        var redis = new PrivateRedis();
        await redis.StartServerAsync(FreePort());
        return redis;
    }

    private async Task StartServerAsync(int port)
    {
        Port = port;
        Directory.CreateDirectory(_dir);
        _process = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _dir,
             "--maxmemory-policy", "noeviction", "--loglevel", "warning"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("redis-server did not start (scripts/test installs it).");
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                var options = ConfigurationOptions.Parse(Configuration);
                options.AllowAdmin = true;
                options.ConnectTimeout = 500;
                _admin = await ConnectionMultiplexer.ConnectAsync(options);
                if (_admin.IsConnected) return;
            }
            catch (RedisConnectionException)
            {
            }
            await Task.Delay(50);
        }
        throw new InvalidOperationException($"redis-server on {port} did not answer.");
    }

    /// <summary>Runs a command with admin rights (CONFIG SET, CLIENT KILL, FLUSHALL ...).</summary>
    public async Task<RedisResult> ExecuteAsync(string command, params object[] args) =>
        await _admin!.GetServer(Configuration).ExecuteAsync(command, args);

    /// <summary>Every write now fails with NOREPLICAS while reads still work (a write lost after PostgreSQL committed).</summary>
    public Task RefuseWritesAsync() => ExecuteAsync("CONFIG", "SET", "min-replicas-to-write", "1");

    public Task AcceptWritesAsync() => ExecuteAsync("CONFIG", "SET", "min-replicas-to-write", "0");

    /// <summary>Drops every subscriber connection (the instances' invalidation subscriptions).</summary>
    public Task CutSubscribersAsync() => ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub");

    public Task FlushAsync() => ExecuteAsync("FLUSHALL");

    /// <summary>An ordinary RDB snapshot (what Debian's stock redis.conf takes every few minutes).</summary>
    public Task SaveAsync() => ExecuteAsync("SAVE");

    /// <summary>
    /// The server dies without saving and starts again on the same port and directory, so it loads the last snapshot:
    /// a crashed Redis with RDB persistence (or a backup restored) comes back as old as that snapshot.
    /// </summary>
    public async Task RestartFromSnapshotAsync()
    {
        try
        {
            await ExecuteAsync("SHUTDOWN", "NOSAVE");
        }
        catch (RedisConnectionException)
        {
            // The server closes the connection as it goes.
        }
        if (_process is not null)
        {
            await _process.WaitForExitAsync();
            _process.Dispose();
        }
        if (_admin is not null) await _admin.DisposeAsync();
        await StartServerAsync(Port);
    }

    /// <summary>Redis at maxmemory under noeviction: every write that needs memory fails with OOM, reads still work.</summary>
    /// <remarks>A limit of one byte, not "what is used now plus a little": memory in use moves (client buffers, expiries), and
    /// a write that found it a kilobyte lower went through.</remarks>
    public Task FillMemoryAsync() => ExecuteAsync("CONFIG", "SET", "maxmemory", "1");

    public Task FreeMemoryAsync() => ExecuteAsync("CONFIG", "SET", "maxmemory", "0");

    public async Task<long> MemoryUsageAsync(RedisKey key) => (long)await _admin!.GetDatabase().ExecuteAsync("MEMORY", "USAGE", key, "SAMPLES", "0");

    public IDatabase Database => _admin!.GetDatabase();

    public async ValueTask DisposeAsync()
    {
        if (_admin is not null) await _admin.DisposeAsync();
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
