using System.Net;
using SessionGate.Caching;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>A master's mark: every outbox row below <see cref="Horizon"/> (a transaction horizon) is applied in it, for key generation <see cref="Generation"/>.</summary>
public readonly record struct NodeMark(long Generation, long Horizon)
{
    public string Encode() => $"{Generation}:{Horizon}";

    public static NodeMark? Decode(RedisValue value)
    {
        if (value.IsNull) return null;
        var text = (string)value!;
        var colon = text.IndexOf(':');
        return colon > 0 && long.TryParse(text.AsSpan(0, colon), out var g) && long.TryParse(text.AsSpan(colon + 1), out var h) ? new NodeMark(g, h) : null;
    }
}

/// <summary>One master as read on one tick: its mark (raw, for a compare-and-set) and its identity.</summary>
public sealed record MasterState(EndPoint EndPoint, RedisKey MarkKey, RedisValue RawMark, string Identity)
{
    public NodeMark? Mark => NodeMark.Decode(RawMark);
}

/// <summary>
/// How current Redis is, per master. Each master holds one mark key (hash-tagged onto one of its own slots), written
/// only after every row below its horizon was applied again and acknowledged by that very master process: a snapshot,
/// an AOF or a replica that holds the mark therefore holds those rows too (each is a prefix of the master's writes).
/// A master that comes back older brings an older mark, or none. The identity (run id, replication id, role, slots)
/// is what proves "that very process": a restart, a promotion or a slot move between the writes and the mark changes
/// it, and the mark is then not written.
/// Uses a connection of its own with admin commands allowed (INFO, CLUSTER NODES); the app's own stays without.
/// </summary>
public sealed class RedisMarks : IAsyncDisposable
{
    private const int MaxTagSearch = 100_000;
    private const string CompareAndSetScript = """
        local cur = redis.call('GET', KEYS[1])
        if (cur or '') ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[1], ARGV[2])
        return 1
        """;

    private readonly RedisOptions _options;
    private readonly SemaphoreSlim _connecting = new(1, 1);
    private ConnectionMultiplexer? _admin;

    public RedisMarks(IOptions<RedisOptions> options) => _options = options.Value;

    private async Task<ConnectionMultiplexer> AdminAsync()
    {
        if (_admin is { } admin) return admin;
        await _connecting.WaitAsync();
        try
        {
            if (_admin is not null) return _admin;
            var config = ConfigurationOptions.Parse(_options.Configuration);
            config.AllowAdmin = true;
            config.AbortOnConnectFail = false;
            config.BacklogPolicy = BacklogPolicy.FailFast;
            config.ClientName = "sessiongate-marks";
            var named = _options.Configuration.ToLowerInvariant();
            if (!named.Contains("connecttimeout")) config.ConnectTimeout = 2000;
            if (!named.Contains("asynctimeout")) config.AsyncTimeout = 1000;
            if (!named.Contains("synctimeout")) config.SyncTimeout = 1000;
            config.ReconnectRetryPolicy ??= new ExponentialRetry(250, 2000);
            return _admin = await ConnectionMultiplexer.ConnectAsync(config);
        }
        finally
        {
            _connecting.Release();
        }
    }

    /// <summary>
    /// Every master with its mark and identity. Throws (a <see cref="RedisException"/>) when a master cannot be read or
    /// the masters do not cover every slot: then nothing about Redis is proven on this tick.
    /// </summary>
    public async Task<IReadOnlyList<MasterState>> ReadAsync()
    {
        var admin = await AdminAsync();
        var servers = admin.GetServers();
        if (servers.Length == 0 || !servers.Any(s => s.IsConnected)) throw new RedisException("No Redis server is connected.");
        // Every connected server is asked at once; what a server says of itself (INFO's role) decides, not the role
        // this connection last saw, which lags a promotion. A server last seen as a replica that does not answer (frozen,
        // dying) is left out, so it cannot stall the proof; a master that does not answer fails the tick.
        var read = await Task.WhenAll(servers.Where(s => s.IsConnected).Select(async server =>
        {
            try
            {
                return await ReadOneAsync(admin, server);
            }
            catch (Exception e) when (server.IsReplica && e is RedisException or RedisTimeoutException or TimeoutException)
            {
                return null;
            }
        }));
        var masters = new List<MasterState>();
        var covered = new bool[16384];
        var cluster = false;
        foreach (var (state, slots) in read.OfType<(MasterState, IList<SlotRange>?)>())
        {
            masters.Add(state);
            if (slots is null) continue;
            cluster = true;
            foreach (var range in slots) for (var s = range.From; s <= range.To; s++) covered[s] = true;
        }
        if (masters.Count == 0) throw new RedisException("No Redis master is connected.");
        if (!cluster && masters.Count > 1) throw new RedisException("More than one standalone master answers.");
        if (cluster && covered.Any(c => !c))
        {
            // A master this connection does not know of yet (a promotion): look again, and prove nothing meanwhile.
            _ = admin.ReconfigureAsync("marks: slots not covered");
            throw new RedisException("The known Redis masters do not cover every slot.");
        }
        return masters;
    }

    // One server's mark and identity, with its slots in a cluster; null when it is no master (or a master of no slot).
    private async Task<(MasterState, IList<SlotRange>?)?> ReadOneAsync(ConnectionMultiplexer admin, IServer server)
    {
        var replication = Info(await server.InfoRawAsync("replication"));
        if (replication.GetValueOrDefault("role") != "master") return null;
        var runId = Info(await server.InfoRawAsync("server")).GetValueOrDefault("run_id") ?? "";
        RedisKey key;
        IList<SlotRange>? slots = null;
        if (server.ServerType == ServerType.Cluster)
        {
            var me = (await server.ClusterNodesAsync())?.Nodes.FirstOrDefault(n => n.IsMyself);
            if (me is null || me.IsReplica || me.Slots.Count == 0) return null;
            slots = me.Slots;
            key = MarkKey(admin, me.Slots);
        }
        else
        {
            key = $"{_options.KeyPrefix}mark";
        }
        var raw = (RedisValue)await server.ExecuteAsync("GET", [key], CommandFlags.NoRedirect);
        var slotList = slots is null ? "" : string.Join(',', slots.Select(r => $"{r.From}-{r.To}"));
        return (new MasterState(server.EndPoint, key, raw, $"{runId}|{replication.GetValueOrDefault("master_replid")}|{slotList}"), slots);
    }

    /// <summary>
    /// Writes a master's mark if it still holds <paramref name="expected"/> (what the tick read, or wrote last). False
    /// when it does not: someone else wrote it, or the master came back older.
    /// </summary>
    public async Task<bool> AdvanceAsync(MasterState master, RedisValue expected, NodeMark mark)
    {
        var admin = await AdminAsync();
        var result = await admin.GetServer(master.EndPoint).ExecuteAsync("EVAL",
            [CompareAndSetScript, 1, master.MarkKey, expected.IsNull ? "" : expected, mark.Encode()], CommandFlags.NoRedirect);
        return (long)result == 1;
    }

    // The lowest tag "{<prefix>mark:<i>}" whose slot the master owns: one fixed key per master while its slots stay.
    private RedisKey MarkKey(ConnectionMultiplexer admin, IList<SlotRange> slots)
    {
        for (var i = 0; i < MaxTagSearch; i++)
        {
            RedisKey key = $"{_options.KeyPrefix}{{mark:{i}}}";
            var slot = admin.HashSlot(key);
            foreach (var range in slots)
            {
                if (slot >= range.From && slot <= range.To) return key;
            }
        }
        throw new RedisException("No mark key hashes to this master's slots.");
    }

    private static Dictionary<string, string> Info(string? raw)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (raw is null) return map;
        foreach (var line in raw.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && line[0] != '#') map[line[..colon]] = line[(colon + 1)..].TrimEnd('\r');
        }
        return map;
    }

    public async ValueTask DisposeAsync()
    {
        if (_admin is not null) await _admin.DisposeAsync();
        _connecting.Dispose();
    }
}
