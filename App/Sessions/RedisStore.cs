using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using SessionGate.Infrastructure;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>
/// Owns every Redis key (prefix and Cluster hash tags) and the serializer. A user's keys share the tag
/// <c>{u:&lt;userId&gt;}</c> so the JWT modes' per-request check is one round trip to one slot. An Opaque
/// session is tagged by the hash of its id, so the key never reveals the user.
/// </summary>
public sealed class RedisStore(IConnectionMultiplexer redis, IOptions<RedisOptions> options)
{
    private readonly string _prefix = options.Value.KeyPrefix;

    private IDatabase Db => redis.GetDatabase();

    internal RedisKey OpaqueKey(byte[] secretHash) => $"{_prefix}{{o:{WebEncoders.Base64UrlEncode(secretHash)}}}";
    internal RedisKey UserTag(Guid userId) => $"{_prefix}{{u:{userId:N}}}";
    internal RedisKey UserStateKey(Guid userId) => $"{UserTag(userId)}:st";
    internal RedisKey CachedSessionKey(Guid userId, Guid sessionId) => $"{UserTag(userId)}:s:{sessionId:N}";
    internal RedisKey RevokedSessionKey(Guid userId, Guid sessionId) => $"{UserTag(userId)}:sr:{sessionId:N}";
    internal RedisKey RevokedJtiKey(Guid userId, string jti) => $"{UserTag(userId)}:j:{jti}";

    // Login-failure counters hash the (attacker-chosen) name so keys stay short and bounded.
    internal RedisKey FailureKey(string scope, string id) =>
        $"{_prefix}{{rl:{scope}:{Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(id)))[..32]}}}";

    public async Task<CachedSession?> GetOpaqueAsync(byte[] secretHash) => Decode(await Db.StringGetAsync(OpaqueKey(secretHash)));

    public Task SetOpaqueAsync(byte[] secretHash, CachedSession entry, TimeSpan ttl) => SetEntryAsync(OpaqueKey(secretHash), entry, ttl);

    public async Task<CachedSession?> GetCachedSessionAsync(Guid userId, Guid sessionId) =>
        Decode(await Db.StringGetAsync(CachedSessionKey(userId, sessionId)));

    public Task SetCachedSessionAsync(Guid userId, Guid sessionId, CachedSession entry, TimeSpan ttl) =>
        SetEntryAsync(CachedSessionKey(userId, sessionId), entry, ttl);

    // A live entry is written only where no tombstone stands. Writers of live entries (login, sliding, rebuild
    // after a miss, role changes) read PostgreSQL first; a revocation that lands in between writes its tombstone
    // unconditionally after its own PostgreSQL write, so whichever order the two Redis writes take, the
    // tombstone wins and a revoked session is never revived.
    // Likewise a live entry never replaces one read at a newer security version (a role change): a slow
    // sliding write or rebuild cannot bring old roles back.
    private const string SetLiveUnlessRevokedScript = """
        local cur = redis.call('GET', KEYS[1])
        if cur then
          local ok, v = pcall(cjson.decode, cur)
          if ok and type(v) == 'table' then
            if v['revoked'] then return 0 end
            local s = v['session']
            if type(s) == 'table' and tonumber(s['version'] or 0) > tonumber(ARGV[3]) then return 0 end
          end
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        return 1
        """;

    private Task SetEntryAsync(RedisKey key, CachedSession entry, TimeSpan ttl) =>
        entry.Revoked is not null
            ? Db.StringSetAsync(key, Encode(entry), Clamp(ttl))
            : Db.ScriptEvaluateAsync(SetLiveUnlessRevokedScript, [key], [Encode(entry), (long)Clamp(ttl).TotalMilliseconds, entry.Session!.Version]);

    /// <summary>Blacklist mode's hot path: user state, session revocation and jti revocation in one MGET on one slot.</summary>
    public async Task<(UserState? State, string? SessionRevoked, string? JtiRevoked)> GetTokenStateAsync(Guid userId, Guid sessionId, string jti)
    {
        var values = await Db.StringGetAsync([UserStateKey(userId), RevokedSessionKey(userId, sessionId), RevokedJtiKey(userId, jti)]);
        var state = values[0].IsNull ? null : JsonSerializer.Deserialize((byte[])values[0]!, RedisJsonContext.Default.UserState);
        return (state, values[1].IsNull ? null : (string?)values[1], values[2].IsNull ? null : (string?)values[2]);
    }

    // Versions only move forward: a slow writer holding an older version must not undo a newer revocation.
    private const string SetIfNewerScript = """
        local cur = redis.call('GET', KEYS[1])
        if cur then
          local ok, v = pcall(cjson.decode, cur)
          if ok and type(v) == 'table' and v['version'] and tonumber(v['version']) >= tonumber(ARGV[1]) then return 0 end
        end
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        return 1
        """;

    public Task SetUserStateIfNewerAsync(Guid userId, UserState state, TimeSpan ttl) =>
        Db.ScriptEvaluateAsync(SetIfNewerScript, [UserStateKey(userId)],
            [state.Version, JsonSerializer.SerializeToUtf8Bytes(state, RedisJsonContext.Default.UserState), (long)Clamp(ttl).TotalMilliseconds]);

    public Task RevokeSessionAsync(Guid userId, Guid sessionId, string reason, TimeSpan ttl) =>
        Db.StringSetAsync(RevokedSessionKey(userId, sessionId), reason, Clamp(ttl));

    public Task RevokeJtiAsync(Guid userId, string jti, string reason, TimeSpan ttl) =>
        Db.StringSetAsync(RevokedJtiKey(userId, jti), reason, Clamp(ttl));

    // INCR and the window's expiry in one step: a counter can never be left without a TTL.
    private const string CountAttemptScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return n
        """;

    /// <summary>Counts one login attempt against a limit's window; returns the count including it.</summary>
    public async Task<long> CountAttemptAsync(RedisKey key, TimeSpan window) =>
        (long)await Db.ScriptEvaluateAsync(CountAttemptScript, [key], [(long)Clamp(window).TotalMilliseconds]);

    public Task UncountAttemptAsync(RedisKey key) => Db.StringDecrementAsync(key);

    /// <summary>How long until a failure counter resets (asked only once a limit is reached).</summary>
    public Task<TimeSpan?> FailuresResetInAsync(RedisKey key) => Db.KeyTimeToLiveAsync(key);

    public Task ResetFailuresAsync(RedisKey key) => Db.KeyDeleteAsync(key);

    public Task<TimeSpan> PingAsync() => Db.PingAsync();

    private static TimeSpan Clamp(TimeSpan ttl) => ttl < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : ttl;

    private static byte[] Encode(CachedSession entry) => JsonSerializer.SerializeToUtf8Bytes(entry, RedisJsonContext.Default.CachedSession);

    private static CachedSession? Decode(RedisValue value) =>
        value.IsNull ? null : JsonSerializer.Deserialize((byte[])value!, RedisJsonContext.Default.CachedSession);

    public static IConnectionMultiplexer Connect(RedisOptions options)
    {
        var config = ConfigurationOptions.Parse(options.Configuration);
        // Start even when Redis is down, and fail fast per command: authentication then fails closed (503).
        config.AbortOnConnectFail = false;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ConnectTimeout = Math.Min(config.ConnectTimeout, 3000);
        config.AsyncTimeout = Math.Min(config.AsyncTimeout, 3000);
        config.SyncTimeout = Math.Min(config.SyncTimeout, 3000);
        return ConnectionMultiplexer.Connect(config);
    }
}
