using Microsoft.AspNetCore.WebUtilities;
using SessionGate.Caching;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>
/// Owns every Redis key (prefix and Cluster hash tags), the encodings and the write rules:
/// <list type="bullet">
/// <item>tombstones win: a live session entry is never written over a tombstone;</item>
/// <item>versions only move forward: nothing read at an older security version replaces something newer;</item>
/// <item>a session's assurance only moves forward: nothing replaces an entry's auth_time with an older one;</item>
/// <item>nothing writes the "complete" marker of a user's revocations unless all of them come with it.</item>
/// </list>
/// A user's keys share the tag <c>{u:&lt;userId&gt;}</c>, so the JWT modes' per-request read is one round trip to one
/// slot. An Opaque session is tagged by the hash of its id, so the key never reveals the user.
/// </summary>
public sealed class RedisStore(IConnectionMultiplexer redis, IOptions<RedisOptions> options)
{
    private readonly string _prefix = options.Value.KeyPrefix;
    // Cached state (sessions, revocations, role sets) lives under a key generation that PostgreSQL names: moving it
    // abandons whatever Redis holds (a master that came back older than the outbox reaches) in one step.
    private volatile string _cached = options.Value.KeyPrefix + "0:";

    private IDatabase Db => redis.GetDatabase();

    /// <summary>The key generation of every cached key (see <c>Sessions/RedisProof</c>).</summary>
    public long Generation { get; private set; }

    public void UseGeneration(long generation)
    {
        _cached = $"{_prefix}{generation}:";
        Generation = generation;
    }

    internal RedisKey OpaqueKey(ReadOnlySpan<byte> secretHash) => $"{_cached}{{o:{WebEncoders.Base64UrlEncode(secretHash)}}}";
    internal RedisKey UserTag(Guid userId) => $"{_cached}{{u:{userId:N}}}";
    internal RedisKey SessionKey(Guid userId, Guid sessionId) => $"{UserTag(userId)}:s:{sessionId:N}";
    internal RedisKey UserRevocationsKey(Guid userId) => $"{UserTag(userId)}:rv";
    internal RedisKey RoleSetKey(Guid tenantId) => $"{_cached}{{t:{tenantId:N}}}:roles";

    // ---- Session entries (Opaque and SessionCache) ----------------------------------------------------------------

    public async Task<SessionEntry?> GetSessionAsync(RedisKey key)
    {
        var value = await FailFastAsync(Db, key, static (db, k, flags) => db.StringGetAsync(k, flags));
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
          -- A session's assurance only moves forward (a step-up, an enrolment): a slide or rebuild read before it
          -- must not bring back an older auth_time or the enrolment-only flag. SessionEntry's trailer is the last
          -- 11 bytes: 'A', methods, flags, auth_time in unix ms (little-endian).
          if tonumber(ARGV[4]) >= 0 and #cur >= 11 and string.byte(cur, -11) == 65 then
            local at = 0
            for i = -1, -8, -1 do at = at * 256 + string.byte(cur, i) end
            local flags = string.byte(cur, -9)
            if tonumber(ARGV[4]) < at or (tonumber(ARGV[4]) == at and tonumber(ARGV[5]) > flags) then return 0 end
          end
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    /// <summary>Writes a session entry: a tombstone always, a live entry only under the rules above.</summary>
    public Task WriteSessionAsync(RedisKey key, SessionEntry entry, TimeSpan ttl) =>
        entry.Live is { } live
            ? FailFastAsync(Db, key, (db, k, flags) => db.ScriptEvaluateAsync(SetLiveScript, [k],
                [entry.Encode(), Millis(ttl), live.Version, live.Assurance?.AuthTime.ToUnixTimeMilliseconds() ?? -1, live.Assurance?.EnrollmentOnly == true ? 1 : 0], flags))
            : FailFastAsync(Db, key, (db, k, flags) => db.StringSetAsync(k, entry.Encode(), Clamp(ttl), flags: flags));

    // A sliding write only moves the expiry of the very entry it read: never one that is missing (Redis lost it, and a
    // rebuild from PostgreSQL will decide), a tombstone, one at another security version (a change rewrote it), or
    // one whose assurance trailer (SessionEntry's last 11 bytes, 'A' first) differs (a step-up or enrolment raised it).
    private const string TouchLiveScript = """
        local cur = redis.call('GET', KEYS[1])
        if not cur or string.sub(cur, 1, 1) ~= 'L' then return 0 end
        local v = tonumber(string.match(cur, '^L(%d+):'))
        if v ~= tonumber(ARGV[3]) then return 0 end
        local new = ARGV[1]
        if #cur >= 11 and string.byte(cur, -11) == 65 and (#new < 11 or string.sub(cur, -11) ~= string.sub(new, -11)) then return 0 end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    /// <summary>Writes a slid live entry over the same live entry at the same version, and nothing else.</summary>
    public Task TouchSessionAsync(RedisKey key, SessionSnapshot slid, TimeSpan ttl) =>
        Db.ScriptEvaluateAsync(TouchLiveScript, [key], [SessionEntry.Of(slid).Encode(), Millis(ttl), slid.Version], CommandFlags.DemandMaster);

    // ---- A user's revocations (Blacklist) --------------------------------------------------------------------------
    // One hash per user: "v" = "<version>|<reason>" is the marker that the hash is complete; "s:<sid>" and "j:<jti>"
    // = "<reason>|<unix ms until it matters>". A hash without "v" is incomplete (Redis lost it, or a revocation
    // landed in a lost hash): the reader rebuilds all of it from PostgreSQL.

    public async Task<UserRevocations?> GetUserRevocationsAsync(Guid userId)
    {
        var fields = await FailFastAsync(Db, UserRevocationsKey(userId), static (db, k, flags) => db.HashGetAllAsync(k, flags));
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
        var value = await FailFastAsync(Db, RoleSetKey(tenantId), static (db, k, flags) => db.StringGetAsync(k, flags));
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

    /// <summary>
    /// Runs a command the request waits on so that a slot whose master is down fails at once. StackExchange.Redis
    /// sends such a command to another master, and follows its MOVED back to the dead one by queueing the command
    /// until a command timeout (about a second, whatever <c>BacklogPolicy.FailFast</c> says). With
    /// <c>NoRedirect</c> the MOVED comes back as an error instead, and the client has already updated its slot map:
    /// one more attempt goes straight to the new owner (a promoted replica, a migrated slot), or fails as fast again
    /// while the owner is down. Never read from a replica: <c>DemandMaster</c>.
    /// </summary>
    private static async Task<T> FailFastAsync<T>(IDatabase db, RedisKey key, Func<IDatabase, RedisKey, CommandFlags, Task<T>> command)
    {
        const CommandFlags flags = CommandFlags.DemandMaster | CommandFlags.NoRedirect;
        try
        {
            return await command(db, key, flags);
        }
        catch (RedisException e) when (e.Message.Contains("MOVED", StringComparison.Ordinal))
        {
            return await command(db, key, flags);
        }
        catch (RedisException e) when (e.Message.Contains("not reachable at this point", StringComparison.Ordinal))
        {
            // What an ASK (a slot being migrated) becomes under NoRedirect: its target is up, so follow it as usual.
            return await command(db, key, CommandFlags.DemandMaster);
        }
    }

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
        // A frozen node or a master that died without closing its sockets costs a request at most this long.
        if (!named.Contains("asynctimeout")) config.AsyncTimeout = 500;
        if (!named.Contains("synctimeout")) config.SyncTimeout = 500;
        // Notice a dead connection within seconds, and re-read the cluster layout often enough to follow a promotion.
        if (!named.Contains("keepalive")) config.KeepAlive = 5;
        config.ReconnectRetryPolicy ??= new ExponentialRetry(250, 2000);
        return ConnectionMultiplexer.Connect(config);
    }
}
