using System.Security.Cryptography;
using System.Text;

namespace SessionGate.Bench.FaultRig;

/// <summary>One line of CLUSTER NODES.</summary>
public sealed record ClusterNode(string Id, int Port, bool IsMaster, bool Failed, string? MasterId, bool Connected, IReadOnlyList<(int From, int To)> Slots)
{
    public bool Holds(int slot) => Slots.Any(r => slot >= r.From && slot <= r.To);
}

/// <summary>The rig's Redis Cluster: its ports, which of them the rig took down, and what the nodes say.</summary>
public sealed class Cluster(IReadOnlyList<int> ports)
{
    public IReadOnlyList<int> Ports { get; } = ports;

    /// <summary>Ports the rig killed or stopped; they are not asked anything until started again.</summary>
    public HashSet<int> Down { get; } = [];

    public IEnumerable<int> Up => Ports.Where(p => !Down.Contains(p));

    /// <summary>CLUSTER NODES as seen by the first node that answers.</summary>
    public async Task<List<ClusterNode>> NodesAsync()
    {
        foreach (var port in Up)
        {
            var text = await Rig.RedisAsync(port, "CLUSTER", "NODES");
            if (string.IsNullOrWhiteSpace(text) || text.StartsWith("ERR", StringComparison.Ordinal)) continue;
            return Parse(text);
        }
        throw new RigException("no cluster node answers CLUSTER NODES");
    }

    public static List<ClusterNode> Parse(string text)
    {
        var nodes = new List<ClusterNode>();
        foreach (var raw in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = raw.Split(' ');
            if (f.Length < 8) continue;
            var address = f[1].Split('@')[0];
            if (!int.TryParse(address[(address.LastIndexOf(':') + 1)..], out var port)) continue;
            var flags = f[2].Split(',');
            var slots = new List<(int, int)>();
            foreach (var s in f.Skip(8))
            {
                if (s.StartsWith('[')) continue; // migrating / importing
                var dash = s.IndexOf('-');
                if (dash < 0 && int.TryParse(s, out var one)) slots.Add((one, one));
                else if (dash > 0 && int.TryParse(s[..dash], out var a) && int.TryParse(s[(dash + 1)..], out var b)) slots.Add((a, b));
            }
            nodes.Add(new ClusterNode(f[0], port, flags.Contains("master"), flags.Contains("fail") || flags.Contains("fail?"),
                f[3] == "-" ? null : f[3], f[7] == "connected", slots));
        }
        return nodes;
    }

    /// <summary>The live master holding <paramref name="slot"/> and one of its replicas.</summary>
    public async Task<(ClusterNode Master, ClusterNode Replica)> OwnerAsync(int slot)
    {
        var nodes = await NodesAsync();
        var master = nodes.FirstOrDefault(n => n.IsMaster && !n.Failed && n.Holds(slot)) ?? throw new RigException($"no live master holds slot {slot}");
        var replica = nodes.FirstOrDefault(n => n.MasterId == master.Id && !n.Failed) ?? throw new RigException($"master :{master.Port} has no live replica");
        return (master, replica);
    }

    public async Task<string?> RoleAsync(int port)
    {
        var role = await Rig.RedisAsync(port, 2, "ROLE");
        return role?.Split('\n').FirstOrDefault()?.Trim();
    }

    /// <summary>
    /// Waits until every node answers, reports cluster_state:ok, there are 3 masters covering all slots, and every
    /// replica's link to its master is up (a restarted node has finished its full sync).
    /// </summary>
    public async Task<bool> WaitHealthyAsync(double timeoutSeconds)
    {
        var deadline = Rig.Now + timeoutSeconds * 1000;
        string why = "";
        while (Rig.Now < deadline)
        {
            why = await WhyNotHealthyAsync() ?? "";
            if (why.Length == 0) return true;
            await Task.Delay(250);
        }
        Rig.Log($"cluster not healthy after {timeoutSeconds} s: {why}");
        return false;
    }

    private async Task<string?> WhyNotHealthyAsync()
    {
        foreach (var port in Ports)
        {
            var info = await Rig.RedisAsync(port, 2, "CLUSTER", "INFO");
            if (info is null || !info.Contains("cluster_state:ok", StringComparison.Ordinal)) return $":{port} state not ok";
        }
        var nodes = await NodesAsync();
        var masters = nodes.Where(n => n.IsMaster && !n.Failed && n.Slots.Count > 0).ToList();
        if (masters.Count != 3 || masters.Sum(m => m.Slots.Sum(r => r.To - r.From + 1)) != 16384) return "masters do not cover the slots";
        if (nodes.Any(n => n.Failed)) return "a node is flagged failed";
        foreach (var replica in nodes.Where(n => !n.IsMaster))
        {
            var repl = await Rig.RedisAsync(replica.Port, 2, "INFO", "replication");
            if (repl is null || !repl.Contains("master_link_status:up", StringComparison.Ordinal)) return $"replica :{replica.Port} link not up";
        }
        foreach (var m in masters)
        {
            if (!nodes.Any(n => n.MasterId == m.Id)) return $"master :{m.Port} has no replica";
        }
        return null;
    }

    // ---- Keys ----------------------------------------------------------------------------------------------------

    /// <summary>Redis Cluster's HASH_SLOT: CRC16 (XMODEM) of the hash tag, or of the whole key, mod 16384.</summary>
    public static int Slot(string key)
    {
        var open = key.IndexOf('{');
        if (open >= 0)
        {
            var close = key.IndexOf('}', open + 1);
            if (close > open + 1) key = key[(open + 1)..close];
        }
        ushort crc = 0;
        foreach (var b in Encoding.UTF8.GetBytes(key))
        {
            crc ^= (ushort)(b << 8);
            for (var i = 0; i < 8; i++) crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
        }
        return crc % 16384;
    }

    /// <summary>
    /// Where a session lives in Redis (App/Sessions/RedisStore.cs; cached keys carry the key generation that
    /// redis_keyspaces names): Opaque <c>&lt;prefix&gt;&lt;gen&gt;:{o:&lt;b64url sha256(id)&gt;}</c>; SessionCache
    /// <c>&lt;prefix&gt;&lt;gen&gt;:{u:&lt;user&gt;}:s:&lt;sid&gt;</c>; Blacklist the user's revocation hash
    /// <c>&lt;prefix&gt;&lt;gen&gt;:{u:&lt;user&gt;}:rv</c>, field <c>s:&lt;sid&gt;</c>.
    /// </summary>
    public static (string Key, string? Field) SessionKey(string mode, string prefix, Credential c, long generation) => mode switch
    {
        "Opaque" => ($"{prefix}{generation}:{{o:{Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes(c.Bearer)))}}}", null),
        "SessionCache" => ($"{prefix}{generation}:{{u:{c.UserId:N}}}:s:{c.SessionId:N}", null),
        _ => ($"{prefix}{generation}:{{u:{c.UserId:N}}}:rv", $"s:{c.SessionId:N}"),
    };

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>
    /// What a node holds for a session: "tombstone", "live" or "missing" (Blacklist: "revoked" when the hash names the
    /// session, "not-revoked" when the hash is there without it). Read with READONLY, so replicas answer too.
    /// </summary>
    public static async Task<string> StateAsync(int port, string key, string? field, bool standalone = false)
    {
        // A standalone Redis refuses READONLY (its error line is followed by an empty one): a plain PING stands in.
        string[] first = standalone ? ["PING"] : ["READONLY"];
        var output = field is null
            ? await Rig.RedisPipeAsync(port, first, ["GET", key])
            : await Rig.RedisPipeAsync(port, first, ["EXISTS", key], ["HEXISTS", key, field]);
        if (output is null) return "unreachable";
        var lines = output.Split('\n');
        if (lines.Length < 2) return "unreadable";
        if (field is null)
        {
            var value = lines[1];
            if (value.Length == 0) return "missing";
            return value[0] == 'T' ? "tombstone" : value[0] == 'L' ? "live" : value.StartsWith("MOVED", StringComparison.Ordinal) ? "moved" : "other";
        }
        if (lines.Length < 3) return "unreadable";
        if (lines[1].Trim() == "0") return "missing";
        return lines[2].Trim() == "1" ? "revoked" : lines[2].StartsWith("MOVED", StringComparison.Ordinal) ? "moved" : "not-revoked";
    }
}
