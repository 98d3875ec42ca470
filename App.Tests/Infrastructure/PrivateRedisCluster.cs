using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// A Redis Cluster of one test class's own (3 masters, 3 replicas, the redis-server that scripts/test installs), so a
/// test may freeze, kill and promote its nodes without touching the cluster other tests share.
/// </summary>
public sealed class PrivateRedisCluster : IAsyncDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "sg-cluster-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly Dictionary<int, Process> _nodes = [];
    private ConnectionMultiplexer? _client;

    public IReadOnlyList<int> Ports => [.. _nodes.Keys];

    public string Configuration => string.Join(',', _nodes.Keys.Select(p => $"127.0.0.1:{p}"));

    public static async Task<PrivateRedisCluster> StartAsync()
    {
        var cluster = new PrivateRedisCluster();
        foreach (var port in FreePorts(6)) cluster.StartNode(port);
        foreach (var port in cluster.Ports) await cluster.WaitPingAsync(port);
        var (code, output) = await RunAsync("redis-cli", ["--cluster", "create", .. cluster.Ports.Select(p => $"127.0.0.1:{p}"), "--cluster-replicas", "1", "--cluster-yes"]);
        if (code != 0) throw new InvalidOperationException($"redis-cli --cluster create failed: {output}");
        for (var i = 0; i < 200; i++)
        {
            var ok = true;
            // Every node serving, and every node knowing all three replicas: cluster_state:ok comes before the
            // replicas' roles have reached every node by gossip.
            foreach (var port in cluster.Ports)
                ok &= (await CliAsync(port, "CLUSTER", "INFO")).Contains("cluster_state:ok")
                    && (await NodesAsync(port)).Count(n => n[2].Contains("slave", StringComparison.Ordinal) && n[3] != "-") == 3;
            if (ok) break;
            await Task.Delay(100);
        }
        cluster._client = await ConnectionMultiplexer.ConnectAsync(cluster.Configuration);
        return cluster;
    }

    private void StartNode(int port)
    {
        var dir = Path.Combine(_dir, port.ToString());
        Directory.CreateDirectory(dir);
        var process = Process.Start(new ProcessStartInfo("redis-server",
            ["--port", port.ToString(), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no", "--dir", dir, "--maxmemory-policy", "noeviction", "--loglevel", "warning"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("redis-server did not start (scripts/test installs it).");
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        _nodes[port] = process;
    }

    /// <summary>The slot a key hashes to (its hash tag's, when it has one).</summary>
    public int SlotOf(RedisKey key) => _client!.HashSlot(key);

    /// <summary>The master that serves <paramref name="slot"/>, and one of its replicas (ports).</summary>
    public async Task<(int Master, int Replica)> NodesOfSlotAsync(int slot)
    {
        for (var attempt = 0; ; attempt++)
        {
            var nodes = await NodesAsync(_nodes.Keys.First(p => !_nodes[p].HasExited));
            var master = nodes.FirstOrDefault(n => n[2].Contains("master") && !n[2].Contains("fail") && n.Skip(8).Any(r => InRange(r, slot)));
            var replica = master is null ? null : nodes.FirstOrDefault(n => n[2].Contains("slave") && n[3] == master[0]);
            if (master is not null && replica is not null) return (PortOf(master[1]), PortOf(replica[1]));
            // The node asked may not have heard of the replica yet (gossip): ask again.
            if (attempt >= 100) throw new InvalidOperationException($"no master with a replica serves slot {slot}");
            await Task.Delay(50);
        }
    }

    /// <summary>SIGSTOP: the node keeps its sockets but answers nothing (its replication link is cut meanwhile).</summary>
    public Task FreezeAsync(int port) => RunAsync("kill", ["-STOP", _nodes[port].Id.ToString()]);

    public Task ThawAsync(int port) => RunAsync("kill", ["-CONT", _nodes[port].Id.ToString()]);

    /// <summary>The master drops its replicas' connections (a frozen replica cannot reconnect until thawed).</summary>
    public Task CutReplicasAsync(int master) => CliAsync(master, "CLIENT", "KILL", "TYPE", "replica");

    public async Task KillAsync(int port)
    {
        _nodes[port].Kill();
        await _nodes[port].WaitForExitAsync();
    }

    /// <summary>Promotes a replica without its master's agreement (CLUSTER FAILOVER TAKEOVER) and waits until it serves.</summary>
    public async Task TakeOverAsync(int replica)
    {
        await CliAsync(replica, "CLUSTER", "FAILOVER", "TAKEOVER");
        for (var i = 0; i < 200 && !(await CliAsync(replica, "INFO", "replication")).Contains("role:master"); i++) await Task.Delay(50);
        await _client!.ConfigureAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        foreach (var process in _nodes.Values)
        {
            try
            {
                if (!process.HasExited)
                {
                    await RunAsync("kill", ["-CONT", process.Id.ToString()]);
                    process.Kill();
                    await process.WaitForExitAsync();
                }
            }
            catch (InvalidOperationException)
            {
            }
            process.Dispose();
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static bool InRange(string range, int slot)
    {
        if (range.StartsWith('[')) return false;
        var dash = range.IndexOf('-');
        return dash < 0 ? int.Parse(range) == slot : slot >= int.Parse(range[..dash]) && slot <= int.Parse(range[(dash + 1)..]);
    }

    private static int PortOf(string address) => int.Parse(address.Split('@')[0].Split(':')[1]);

    private async Task WaitPingAsync(int port)
    {
        for (var i = 0; i < 100; i++)
        {
            if ((await CliAsync(port, "PING")).Trim() == "PONG") return;
            await Task.Delay(50);
        }
        throw new InvalidOperationException($"cluster node {port} did not answer");
    }

    // CLUSTER NODES as one node sees it: a line's fields (id, address, flags, master id, ..., slot ranges from the 9th).
    private static async Task<List<string[]>> NodesAsync(int port) =>
        (await CliAsync(port, "CLUSTER", "NODES")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToList();

    private static async Task<string> CliAsync(int port, params string[] args) => (await RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", port.ToString(), .. args])).Output;

    private static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = await p.StandardOutput.ReadToEndAsync();
        var error = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, output + error);
    }

    // Cluster nodes also bind their port + 10000 for the bus: both must be free, and below the ephemeral range.
    private static readonly HashSet<int> HandedOut = [];

    private static List<int> FreePorts(int count)
    {
        var ports = new List<int>();
        lock (HandedOut)
        {
            for (var port = 20000 + Random.Shared.Next(0, 2000); ports.Count < count && port < 22700; port++)
            {
                if (!HandedOut.Contains(port) && IsFree(port) && IsFree(port + 10000)) ports.Add(port);
            }
            HandedOut.UnionWith(ports);
        }
        return ports;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
