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

    /// <summary>The key generation of every cached key (see <c>Revocation/RedisProof</c>).</summary>
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

    // ---- Failed-login limits ----------------------------------------------------------------------------------------
    // Names are attacker-chosen, so keys carry a short hash of them. An account's counters share its tag, so one
    // script counts the account-wide and the (account, address) failure together; an unlock moves the account's
    // generation, which orphans every counter of the old one (they expire with their window).

    private string Short(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..32];
    private RedisKey AccountTag(string account) => $"{_prefix}{{rl:a:{Short(account)}}}";
    internal RedisKey AddressKey(string address) => $"{_prefix}{{rl:ip:{Short(address)}}}";
    internal RedisKey PasswordGuessKey(Guid userId) => $"{_prefix}{{rl:pw:{userId:N}}}";

    private const string ReserveLoginScript = """
        local all = redis.call('INCR', KEYS[1])
        if all == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        local pair = redis.call('INCR', KEYS[2])
        if pair == 1 or redis.call('PTTL', KEYS[2]) < 0 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
        if pair > tonumber(ARGV[2]) then
          redis.call('ZADD', KEYS[3], tonumber(ARGV[3]) + redis.call('PTTL', KEYS[2]), ARGV[4])
          redis.call('PEXPIRE', KEYS[3], ARGV[1])
        end
        return {all, pair, redis.call('PTTL', KEYS[1]), redis.call('PTTL', KEYS[2])}
        """;

    /// <summary>Counts one login attempt (before the password is checked) against the account, the pair and the address.</summary>
    public async Task<LoginReservation> ReserveLoginAsync(string account, string address, TimeSpan window, int pairLimit, DateTimeOffset now)
    {
        var tag = AccountTag(account);
        var generation = (long?)await Db.StringGetAsync($"{tag}:gen") ?? 0;
        var addressHash = Short(address);
        RedisKey all = $"{tag}:{generation}:all", pair = $"{tag}:{generation}:ip:{addressHash}", locked = $"{tag}:{generation}:locked";
        var counts = (RedisResult[])(await Db.ScriptEvaluateAsync(ReserveLoginScript, [all, pair, locked],
            [Millis(window), pairLimit, now.ToUnixTimeMilliseconds(), addressHash]))!;
        var addressKey = AddressKey(address);
        var perAddress = await CountAttemptAsync(addressKey, window);
        return new LoginReservation(all, pair, locked, addressKey, addressHash, (long)counts[0], (long)counts[1], perAddress,
            TimeSpan.FromMilliseconds(Math.Max(0, (long)counts[2])), TimeSpan.FromMilliseconds(Math.Max(0, (long)counts[3])));
    }

    // Gives one reservation back, never below zero and never onto a counter whose window has already ended.
    private const string UncountScript = """
        for i = 1, #KEYS do
          if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('DECR', KEYS[i]) <= 0 then redis.call('DEL', KEYS[i]) end
        end
        return 1
        """;

    public Task UncountAsync(params RedisKey[] keys) => Db.ScriptEvaluateAsync(UncountScript, keys);

    /// <summary>A login that succeeded (or was not a guess): its reservations go back; on success the pair is cleared.</summary>
    public async Task ReleaseLoginAsync(LoginReservation r, bool succeeded)
    {
        await UncountAsync(r.AllKey);
        await UncountAsync(r.AddressKey);
        if (!succeeded)
        {
            await UncountAsync(r.PairKey);
            return;
        }
        await Db.KeyDeleteAsync(r.PairKey);
        await Db.SortedSetRemoveAsync(r.LockedKey, r.AddressHash);
    }

    /// <summary>Lifts every failed-login limit of the account, from every address.</summary>
    public async Task UnlockLoginAsync(string account, TimeSpan window)
    {
        var tag = AccountTag(account);
        var generation = await Db.StringIncrementAsync($"{tag}:gen");
        await Db.KeyExpireAsync($"{tag}:gen", window + TimeSpan.FromHours(1));
        await Db.KeyDeleteAsync([(RedisKey)$"{tag}:{generation - 1}:all", (RedisKey)$"{tag}:{generation - 1}:locked"]);
    }

    /// <summary>The account's failures in the window, and the addresses locked out of it (with the latest end).</summary>
    public async Task<(long Failures, int LockedAddresses, DateTimeOffset? LockedUntil)> GetLoginLockAsync(string account, DateTimeOffset now)
    {
        var tag = AccountTag(account);
        var generation = (long?)await Db.StringGetAsync($"{tag}:gen") ?? 0;
        var failures = (long?)await Db.StringGetAsync($"{tag}:{generation}:all") ?? 0;
        var locked = await Db.SortedSetRangeByScoreWithScoresAsync($"{tag}:{generation}:locked", now.ToUnixTimeMilliseconds(), double.PositiveInfinity);
        return (failures, locked.Length, locked.Length == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds((long)locked.Max(e => e.Score)));
    }

    // INCR and the window's expiry in one step: a counter can never be left without a TTL.
    private const string CountAttemptScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return n
        """;

    /// <summary>Counts one attempt against a limit's window; returns the count including it.</summary>
    public async Task<long> CountAttemptAsync(RedisKey key, TimeSpan window) =>
        (long)await Db.ScriptEvaluateAsync(CountAttemptScript, [key], [Millis(window)]);

    /// <summary>How long until a counter resets.</summary>
    public Task<TimeSpan?> ResetsInAsync(RedisKey key) => Db.KeyTimeToLiveAsync(key);

    public Task ResetAsync(RedisKey key) => Db.KeyDeleteAsync(key);

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
