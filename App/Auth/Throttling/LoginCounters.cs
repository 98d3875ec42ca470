using System.Security.Cryptography;
using System.Text;
using SessionGate.Caching;
using SessionGate.Sessions;
using StackExchange.Redis;

namespace SessionGate.Auth;

/// <summary>One counter a login attempt reserved, with the count including it.</summary>
public readonly record struct LimitCount(string Scope, RedisKey Key, long Count, TimeSpan ResetsIn);

/// <summary>
/// A login attempt's reservations: given back unless the attempt turns out to be a wrong password. On success the
/// counters in <see cref="ClearOnSuccess"/> (this address's or this device's failures on the account) are cleared.
/// </summary>
public sealed record LimitReservation(LimitCount[] Counts, RedisKey[] ClearOnSuccess, RedisKey? LockedKey = null, string? LockedMember = null)
{
    public LimitCount? Of(string scope)
    {
        foreach (var c in Counts)
            if (c.Scope == scope) return c;
        return null;
    }
}

/// <summary>
/// Every failed-login and password-guess counter in Redis, shared by all instances: the key layout and the scripts.
/// Names are attacker-chosen, so keys carry a short hash of them. An account's counters share its tag, so one script
/// reserves the account-wide, the (account, address) and the device count together; an unlock moves the account's
/// generation, which orphans every counter of the old one (they expire with their window). Counters of addresses and
/// networks have a tag each, and the service-wide count one per minute.
/// </summary>
public sealed class LoginCounters(IConnectionMultiplexer redis, IOptions<RedisOptions> options)
{
    public const string AccountScope = "account";
    public const string PairScope = "account-address";
    public const string DeviceScope = "device";
    public const string AddressScope = "address";
    public const string Slash56Scope = "network-56";
    public const string Slash48Scope = "network-48";
    public const string GuessScope = "password-guess";
    public const string GuessAccountScope = "password-guess-account";

    private readonly string _prefix = options.Value.KeyPrefix;

    private IDatabase Db => redis.GetDatabase();

    private static string Short(string value) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(value)))[..32];
    private RedisKey AccountTag(string account) => $"{_prefix}{{rl:a:{Short(account)}}}";
    internal RedisKey AddressKey(string address) => $"{_prefix}{{rl:ip:{Short(address)}}}";
    private RedisKey GuessTag(Guid userId) => $"{_prefix}{{rl:pw:{userId:N}}}";
    private RedisKey GlobalKey(long minute) => $"{_prefix}{{rl:g}}:{minute}";

    // Counts the attempt against the account (all new devices) and the (account, address) pair, or against the
    // device; past the pair's limit the address is noted as locked out of the account (for the admin view).
    private const string ReserveAccountScript = """
        local out = {}
        for i = 1, #KEYS - 1 do
          local n = redis.call('INCR', KEYS[i])
          if n == 1 or redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
          out[#out + 1] = n
          out[#out + 1] = redis.call('PTTL', KEYS[i])
        end
        local pair = tonumber(ARGV[2])
        if pair > 0 and out[2 * pair - 1] > tonumber(ARGV[3]) then
          redis.call('ZADD', KEYS[#KEYS], tonumber(ARGV[4]) + out[2 * pair], ARGV[5])
          redis.call('PEXPIRE', KEYS[#KEYS], ARGV[1])
        end
        return out
        """;

    /// <summary>A new device's attempt: the account, the pair, the address and (IPv6) its /56 and /48.</summary>
    public async Task<LimitReservation> ReserveNewDeviceAsync(string account, ClientNetwork network, TimeSpan window, int pairLimit, DateTimeOffset now)
    {
        var (tag, generation) = await GenerationAsync(account);
        var addressHash = Short(network.LimitKey);
        RedisKey all = $"{tag}:{generation}:all", pair = $"{tag}:{generation}:ip:{addressHash}", locked = $"{tag}:{generation}:locked";
        var accountCounts = Db.ScriptEvaluateAsync(ReserveAccountScript, [all, pair, locked],
            [Millis(window), 2, pairLimit, now.ToUnixTimeMilliseconds(), addressHash]);
        var networks = new List<(string Scope, RedisKey Key)> { (AddressScope, AddressKey(network.LimitKey)) };
        if (network.Slash56 is { } s56) networks.Add((Slash56Scope, AddressKey(s56)));
        if (network.Slash48 is { } s48) networks.Add((Slash48Scope, AddressKey(s48)));
        var networkCounts = networks.Select(n => CountAsync(n.Scope, n.Key, window)).ToArray();
        var a = (RedisResult[])(await accountCounts)!;
        var counts = new List<LimitCount> { Count(AccountScope, all, a, 0), Count(PairScope, pair, a, 1) };
        counts.AddRange(await Task.WhenAll(networkCounts));
        return new LimitReservation([.. counts], [pair], locked, addressHash);
    }

    /// <summary>A known device's attempt: counted against that device of the account only.</summary>
    public async Task<LimitReservation> ReserveDeviceAsync(string account, Guid device, TimeSpan window)
    {
        var (tag, generation) = await GenerationAsync(account);
        RedisKey key = $"{tag}:{generation}:d:{device:N}", locked = $"{tag}:{generation}:locked";
        var r = (RedisResult[])(await Db.ScriptEvaluateAsync(ReserveAccountScript, [key, locked], [Millis(window), 0, 0, 0, ""]))!;
        return new LimitReservation([Count(DeviceScope, key, r, 0)], [key]);
    }

    /// <summary>A wrong-current-password guess: per (account, device) with a device token, else per (account, address) and account-wide.</summary>
    public async Task<LimitReservation> ReservePasswordGuessAsync(Guid userId, Guid? device, string limitKey, TimeSpan window)
    {
        var tag = GuessTag(userId);
        RedisKey own = device is { } d ? $"{tag}:d:{d:N}" : $"{tag}:ip:{Short(limitKey)}", unknown = $"{tag}:unknown", unused = $"{tag}:locked";
        RedisKey[] keys = device is null ? [own, unknown, unused] : [own, unused];
        var r = (RedisResult[])(await Db.ScriptEvaluateAsync(ReserveAccountScript, keys, [Millis(window), 0, 0, 0, ""]))!;
        LimitCount[] counts = device is null ? [Count(GuessScope, own, r, 0), Count(GuessAccountScope, unknown, r, 1)] : [Count(GuessScope, own, r, 0)];
        return new LimitReservation(counts, [own]);
    }

    // Gives reservations back (KEYS up to ARGV[1]) and, on success, deletes the attempt's own failures (the rest of
    // KEYS) and takes its address off the locked list (ARGV[2], ARGV[3]); never below zero, never onto a counter
    // whose window has already ended.
    private const string ReleaseScript = """
        local give = tonumber(ARGV[1])
        for i = 1, #KEYS do
          if i <= give then
            if redis.call('EXISTS', KEYS[i]) == 1 and redis.call('DECR', KEYS[i]) <= 0 then redis.call('DEL', KEYS[i]) end
          elseif ARGV[2] ~= '' and i == #KEYS then
            redis.call('ZREM', KEYS[i], ARGV[2])
          else
            redis.call('DEL', KEYS[i])
          end
        end
        return 1
        """;

    /// <summary>Gives a reservation back (the attempt was no wrong password); on success its own failures are cleared too.</summary>
    public Task ReleaseAsync(LimitReservation r, bool succeeded)
    {
        // One script per slot (the account's counters share a tag; each network counter has its own), all at once.
        RedisKey[] clear = succeeded ? r.ClearOnSuccess : [];
        var slots = new Dictionary<string, (List<RedisKey> Give, List<RedisKey> Clear)>();
        (List<RedisKey> Give, List<RedisKey> Clear) Of(RedisKey key) =>
            slots.TryGetValue(Slot(key), out var lists) ? lists : slots[Slot(key)] = ([], []);
        foreach (var key in r.Counts.Select(c => c.Key).Distinct().Where(k => !clear.Contains(k))) Of(key).Give.Add(key);
        foreach (var key in clear) Of(key).Clear.Add(key);
        var locked = succeeded && r.LockedKey is { } l && r.LockedMember is not null ? Slot(l) : null;
        return Task.WhenAll(slots.Select(slot =>
        {
            var unlock = slot.Key == locked;
            RedisKey[] keys = [.. slot.Value.Give, .. slot.Value.Clear, .. unlock ? [r.LockedKey!.Value] : Array.Empty<RedisKey>()];
            return Db.ScriptEvaluateAsync(ReleaseScript, keys, [slot.Value.Give.Count, unlock ? r.LockedMember : ""]);
        }));
    }

    // The hash tag of a key: keys with the same one live in one slot.
    private static string Slot(RedisKey key)
    {
        var k = key.ToString();
        var open = k.IndexOf('{');
        var close = open < 0 ? -1 : k.IndexOf('}', open + 1);
        return close > open + 1 ? k[(open + 1)..close] : k;
    }

    /// <summary>Counts a new device's wrong password service-wide; returns the failures of this minute and the last.</summary>
    public async Task<long> CountServiceFailureAsync(DateTimeOffset now)
    {
        var minute = now.ToUnixTimeSeconds() / 60;
        var current = await CountAttemptAsync(GlobalKey(minute), TimeSpan.FromMinutes(2));
        var previous = (long?)await Db.StringGetAsync(GlobalKey(minute - 1)) ?? 0;
        // The previous minute weighs by how much of it still lies within the last 60 s.
        var past = 1 - now.ToUnixTimeMilliseconds() % 60_000 / 60_000.0;
        return current + (long)(previous * past);
    }

    /// <summary>Lifts every failed-login limit of the account, from every address and device.</summary>
    public async Task UnlockAsync(string account, TimeSpan window)
    {
        var tag = AccountTag(account);
        var generation = await Db.StringIncrementAsync($"{tag}:gen");
        await Db.KeyExpireAsync($"{tag}:gen", window + TimeSpan.FromHours(1));
        await Db.KeyDeleteAsync([(RedisKey)$"{tag}:{generation - 1}:all", (RedisKey)$"{tag}:{generation - 1}:locked"]);
    }

    /// <summary>The account's new-device failures in the window, and the addresses locked out of it (with the latest end).</summary>
    public async Task<(long Failures, int LockedAddresses, DateTimeOffset? LockedUntil)> GetLockAsync(string account, DateTimeOffset now)
    {
        var (tag, generation) = await GenerationAsync(account);
        var failures = (long?)await Db.StringGetAsync($"{tag}:{generation}:all") ?? 0;
        var locked = await Db.SortedSetRangeByScoreWithScoresAsync($"{tag}:{generation}:locked", now.ToUnixTimeMilliseconds(), double.PositiveInfinity);
        return (failures, locked.Length, locked.Length == 0 ? null : DateTimeOffset.FromUnixTimeMilliseconds((long)locked.Max(e => e.Score)));
    }

    private async Task<(RedisKey Tag, long Generation)> GenerationAsync(string account)
    {
        var tag = AccountTag(account);
        return (tag, (long?)await Db.StringGetAsync($"{tag}:gen") ?? 0);
    }

    // INCR and the window's expiry in one step: a counter can never be left without a TTL.
    private const string CountAttemptScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return {n, redis.call('PTTL', KEYS[1])}
        """;

    private async Task<LimitCount> CountAsync(string scope, RedisKey key, TimeSpan window) =>
        Count(scope, key, (RedisResult[])(await Db.ScriptEvaluateAsync(CountAttemptScript, [key], [Millis(window)]))!, 0);

    /// <summary>Counts one attempt against a limit's window; returns the count including it.</summary>
    public async Task<long> CountAttemptAsync(RedisKey key, TimeSpan window) => (await CountAsync("", key, window)).Count;

    /// <summary>How long until a counter resets.</summary>
    public Task<TimeSpan?> ResetsInAsync(RedisKey key) => Db.KeyTimeToLiveAsync(key);

    private static LimitCount Count(string scope, RedisKey key, RedisResult[] r, int index) =>
        new(scope, key, (long)r[2 * index], TimeSpan.FromMilliseconds(Math.Max(0, (long)r[2 * index + 1])));

    private static long Millis(TimeSpan ttl) => (long)Math.Max(1000, ttl.TotalMilliseconds);
}
