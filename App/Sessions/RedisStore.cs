using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>
/// Owns every Redis key (prefix and Cluster hash tags), the encodings and the write rules:
/// <list type="bullet">
/// <item>tombstones win: a live session entry is never written over a tombstone;</item>
/// <item>versions only move forward: nothing read at an older security version replaces something newer;</item>
/// <item>nothing writes the "complete" marker of a user's revocations unless all of them come with it.</item>
/// </list>
/// A user's keys share the tag <c>{u:&lt;userId&gt;}</c>, so the JWT modes' per-request read is one round trip to one
/// slot. An Opaque session is tagged by the hash of its id, so the key never reveals the user.
/// </summary>
public sealed class RedisStore(IConnectionMultiplexer redis, IOptions<RedisOptions> options)
{
    private readonly string _prefix = options.Value.KeyPrefix;

    private IDatabase Db => redis.GetDatabase();

    internal RedisKey OpaqueKey(ReadOnlySpan<byte> secretHash) => $"{_prefix}{{o:{WebEncoders.Base64UrlEncode(secretHash)}}}";
    internal RedisKey UserTag(Guid userId) => $"{_prefix}{{u:{userId:N}}}";
    internal RedisKey SessionKey(Guid userId, Guid sessionId) => $"{UserTag(userId)}:s:{sessionId:N}";
    internal RedisKey UserRevocationsKey(Guid userId) => $"{UserTag(userId)}:rv";
    internal RedisKey RoleSetKey(Guid tenantId) => $"{_prefix}{{t:{tenantId:N}}}:roles";

    // Login-failure counters hash the (attacker-chosen) name so keys stay short and bounded.
    internal RedisKey FailureKey(string scope, string id) =>
        $"{_prefix}{{rl:{scope}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..32]}}}";

    // ---- Session entries (Opaque and SessionCache) ----------------------------------------------------------------

    public async Task<SessionEntry?> GetSessionAsync(RedisKey key)
    {
        var value = await Db.StringGetAsync(key, CommandFlags.DemandMaster);
        return value.IsNull ? null : SessionEntry.Decode(((ReadOnlyMemory<byte>)value).Span);
    }

    // Writers of live entries (login, sliding, rebuild after a miss, role changes) read PostgreSQL first; a
    // revocation that lands in between writes its tombstone unconditionally after its own commit, so whichever
    // order the two Redis writes take, the tombstone wins. Likewise an entry read at an older security version
    // never replaces a newer one, so a slow sliding write or rebuild cannot bring old roles back.
    private const string SetLiveScript = """
        local cur = redis.call('GET', KEYS[1])
        if cur then
          local tag = string.sub(cur, 1, 1)
          if tag == 'T' then return 0 end
          local v = tonumber(string.match(cur, '^L(%d+):'))
          if v and v > tonumber(ARGV[3]) then return 0 end
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    /// <summary>Writes a session entry: a tombstone always, a live entry only under the rules above.</summary>
    public Task WriteSessionAsync(RedisKey key, SessionEntry entry, TimeSpan ttl) =>
        entry.Live is { } live
            ? Db.ScriptEvaluateAsync(SetLiveScript, [key], [entry.Encode(), Millis(ttl), live.Version], CommandFlags.DemandMaster)
            : Db.StringSetAsync(key, entry.Encode(), Clamp(ttl), flags: CommandFlags.DemandMaster);

    // ---- A user's revocations (Blacklist) --------------------------------------------------------------------------
    // One hash per user: "v" = "<version>|<reason>" is the marker that the hash is complete; "s:<sid>" and "j:<jti>"
    // = "<reason>|<unix ms until it matters>". A hash without "v" is incomplete (Redis lost it, or a revocation
    // landed in a lost hash): the reader rebuilds all of it from PostgreSQL.

    public async Task<UserRevocations?> GetUserRevocationsAsync(Guid userId)
    {
        var fields = await Db.HashGetAllAsync(UserRevocationsKey(userId), CommandFlags.DemandMaster);
        return UserRevocations.Parse(fields);
    }

    // Merges what PostgreSQL holds and sets the marker (only forward). Long hashes drop what no token can need.
    private const string RebuildRevocationsScript = """
        for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        local cur = redis.call('HGET', KEYS[1], 'v')
        local v = cur and tonumber(string.match(cur, '^(%d+)')) or -1
        if v < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'v', ARGV[1] .. '|' .. ARGV[2]) end
        redis.call('PEXPIRE', KEYS[1], ARGV[3])
        if redis.call('HLEN', KEYS[1]) > 64 then
          local all = redis.call('HGETALL', KEYS[1])
          for i = 1, #all, 2 do
            local untilMs = tonumber(string.match(all[i + 1], '|(%d+)$'))
            if all[i] ~= 'v' and untilMs and untilMs < tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], all[i]) end
          end
        end
        return 1
        """;

    public Task RebuildUserRevocationsAsync(Guid userId, long version, string? reason, IEnumerable<KeyValuePair<string, string>> fields,
        TimeSpan ttl, DateTimeOffset now)
    {
        var args = new List<RedisValue> { version, reason ?? "", Millis(ttl), now.ToUnixTimeMilliseconds() };
        foreach (var (field, value) in fields)
        {
            args.Add(field);
            args.Add(value);
        }
        return Db.ScriptEvaluateAsync(RebuildRevocationsScript, [UserRevocationsKey(userId)], [.. args], CommandFlags.DemandMaster);
    }

    // Adds revocations without the marker: into a hash Redis lost, they make an incomplete one that is rebuilt.
    private const string AddRevocationsScript = """
        for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
        if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return 1
        """;

    public Task AddUserRevocationsAsync(Guid userId, IEnumerable<KeyValuePair<string, string>> fields, TimeSpan ttl)
    {
        var args = new List<RedisValue> { Millis(ttl) };
        foreach (var (field, value) in fields)
        {
            args.Add(field);
            args.Add(value);
        }
        return Db.ScriptEvaluateAsync(AddRevocationsScript, [UserRevocationsKey(userId)], [.. args], CommandFlags.DemandMaster);
    }

    // Moves the version forward in a complete hash; a missing or incomplete one is left to be rebuilt.
    private const string RaiseVersionScript = """
        local cur = redis.call('HGET', KEYS[1], 'v')
        if not cur then return 0 end
        local v = tonumber(string.match(cur, '^(%d+)'))
        if v and v >= tonumber(ARGV[1]) then return 0 end
        redis.call('HSET', KEYS[1], 'v', ARGV[1] .. '|' .. ARGV[2])
        return 1
        """;

    public Task RaiseUserVersionAsync(Guid userId, long version, string reason) =>
        Db.ScriptEvaluateAsync(RaiseVersionScript, [UserRevocationsKey(userId)], [version, reason], CommandFlags.DemandMaster);

    // ---- Role sets ------------------------------------------------------------------------------------------------

    public async Task<RoleSet?> GetRoleSetAsync(Guid tenantId)
    {
        var value = await Db.StringGetAsync(RoleSetKey(tenantId), CommandFlags.DemandMaster);
        return value.IsNull ? null : RoleSet.Decode(tenantId, ((ReadOnlyMemory<byte>)value).Span);
    }

    private const string SetIfNotOlderScript = """
        local cur = redis.call('GET', KEYS[1])
        if cur then
          local v = tonumber(string.match(cur, '^V(%d+):'))
          if v and v > tonumber(ARGV[2]) then return 0 end
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
        return 1
        """;

    public Task SetRoleSetAsync(RoleSet set) =>
        Db.ScriptEvaluateAsync(SetIfNotOlderScript, [RoleSetKey(set.TenantId)], [set.Encode(), set.Version, Millis(TimeSpan.FromDays(1))],
            CommandFlags.DemandMaster);

    // ---- Login-failure counters -----------------------------------------------------------------------------------

    // INCR and the window's expiry in one step: a counter can never be left without a TTL.
    private const string CountAttemptScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return n
        """;

    /// <summary>Counts one login attempt against a limit's window; returns the count including it.</summary>
    public async Task<long> CountAttemptAsync(RedisKey key, TimeSpan window) =>
        (long)await Db.ScriptEvaluateAsync(CountAttemptScript, [key], [Millis(window)]);

    public Task UncountAttemptAsync(RedisKey key) => Db.StringDecrementAsync(key);

    /// <summary>How long until a failure counter resets (asked only once a limit is reached).</summary>
    public Task<TimeSpan?> FailuresResetInAsync(RedisKey key) => Db.KeyTimeToLiveAsync(key);

    public Task ResetFailuresAsync(RedisKey key) => Db.KeyDeleteAsync(key);

    public Task<TimeSpan> PingAsync() => Db.PingAsync();

    private static long Millis(TimeSpan ttl) => (long)Clamp(ttl).TotalMilliseconds;

    private static TimeSpan Clamp(TimeSpan ttl) => ttl < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : ttl;

    public static IConnectionMultiplexer Connect(RedisOptions options)
    {
        var config = ConfigurationOptions.Parse(options.Configuration);
        // Start even when Redis is down, and fail fast per command: authentication then fails closed (503) at once
        // instead of queueing behind a dead master during a failover. Timeouts the configuration string names win.
        config.AbortOnConnectFail = false;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        var named = options.Configuration.ToLowerInvariant();
        if (!named.Contains("connecttimeout")) config.ConnectTimeout = 2000;
        if (!named.Contains("asynctimeout")) config.AsyncTimeout = 1000;
        if (!named.Contains("synctimeout")) config.SyncTimeout = 1000;
        // Notice a dead connection within seconds, and re-read the cluster layout often enough to follow a promotion.
        if (!named.Contains("keepalive")) config.KeepAlive = 5;
        config.ReconnectRetryPolicy ??= new ExponentialRetry(250, 2000);
        return ConnectionMultiplexer.Connect(config);
    }
}

/// <summary>A user's revocations as the Blacklist hot path needs them: the security version and the revoked sessions and jtis.</summary>
public sealed class UserRevocations
{
    public required long Version { get; init; }
    public string? Reason { get; init; }
    public required Dictionary<string, (string Reason, long Until)> Entries { get; init; }

    public static string SessionField(Guid sessionId) => $"s:{sessionId:N}";
    public static string JtiField(string jti) => $"j:{jti}";
    public static string Value(string reason, DateTimeOffset until) => $"{reason}|{until.ToUnixTimeMilliseconds()}";

    public string? Find(string field, DateTimeOffset now) =>
        Entries.TryGetValue(field, out var e) && e.Until > now.ToUnixTimeMilliseconds() ? e.Reason : null;

    /// <summary>Null when the hash is missing or incomplete (no marker).</summary>
    public static UserRevocations? Parse(HashEntry[] fields)
    {
        string? marker = null;
        var entries = new Dictionary<string, (string, long)>(fields.Length, StringComparer.Ordinal);
        foreach (var f in fields)
        {
            var name = (string)f.Name!;
            var value = (string)f.Value!;
            if (name == "v")
            {
                marker = value;
                continue;
            }
            var bar = value.LastIndexOf('|');
            if (bar > 0 && long.TryParse(value.AsSpan(bar + 1), out var until)) entries[name] = (value[..bar], until);
        }
        if (marker is null) return null;
        var sep = marker.IndexOf('|');
        if (!long.TryParse(sep < 0 ? marker : marker[..sep], out var version)) return null;
        var reason = sep < 0 || sep == marker.Length - 1 ? null : marker[(sep + 1)..];
        return new UserRevocations { Version = version, Reason = reason, Entries = entries };
    }
}
