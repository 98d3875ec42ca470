using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using SessionGate.Caching;
using SessionGate.Sessions;
using StackExchange.Redis;

namespace SessionGate.Mfa;

/// <summary>
/// A login waiting for its second factor: whose it is, and what the password step already settled (PasswordDigest: a
/// digest of the password hash that was verified, so a password change meanwhile kills the login).
/// </summary>
public sealed record PendingLogin(Guid UserId, Guid TenantId, string DeviceType, string PasswordDigest, int Failures);

/// <summary>What a WebAuthn ceremony was started for, and what it is bound to.</summary>
public enum CeremonyPurpose { Register, Login, SecondFactor, StepUp }

/// <summary>A ceremony's state; Binding is the mfa_token's hash (second factor) or the session id (step-up) it was started for.</summary>
public sealed record Ceremony(CeremonyPurpose Purpose, Guid? UserId, Guid? TenantId, string? Binding, string Options);

/// <summary>
/// The short-lived second-factor state in Redis: pending logins (by the hash of their <c>mfa_token</c>) and WebAuthn
/// ceremonies (by their id). Each is one key tagged by its own hash, so every operation is one key on one slot
/// (Cluster-safe), under the configured prefix. Nothing here must survive: a lost key only means starting over.
/// Secrets never become keys: a token or ceremony id is hashed first.
/// </summary>
public sealed class MfaStore(IConnectionMultiplexer redis, IOptions<RedisOptions> redisOptions, IOptions<MfaOptions> mfa, IOptions<WebAuthnOptions> webAuthn)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string _prefix = redisOptions.Value.KeyPrefix;

    private IDatabase Db => redis.GetDatabase();

    /// <summary>A new random secret (256 bits, base64url).</summary>
    public static string NewSecret(int bytes = 32) => WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>The hash a secret is known by (in keys and bindings).</summary>
    public static string HashOf(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)))[..32];

    private RedisKey PendingKey(string tokenHash) => $"{_prefix}{{mfa:{tokenHash}}}";
    private RedisKey CeremonyKey(string idHash) => $"{_prefix}{{wa:{idHash}}}";

    // ---- Pending logins --------------------------------------------------------------------------------------------

    public async Task<string> StartLoginAsync(Guid userId, Guid tenantId, string device, string passwordHash)
    {
        var token = NewSecret();
        var key = PendingKey(HashOf(token));
        await Db.HashSetAsync(key,
        [
            new("u", userId.ToString("N")), new("t", tenantId.ToString("N")), new("d", device),
            new("h", HashOf(passwordHash)), new("f", 0),
        ]);
        await Db.KeyExpireAsync(key, mfa.Value.PendingLifetime);
        return token;
    }

    public async Task<PendingLogin?> GetLoginAsync(string token)
    {
        var fields = await Db.HashGetAllAsync(PendingKey(HashOf(token)));
        if (fields.Length == 0) return null;
        var map = fields.ToDictionary(f => f.Name.ToString(), f => f.Value.ToString());
        return map.TryGetValue("u", out var u) && Guid.TryParse(u, out var user) && map.TryGetValue("t", out var t) && Guid.TryParse(t, out var tenant)
            ? new PendingLogin(user, tenant, map.GetValueOrDefault("d") ?? "web", map.GetValueOrDefault("h") ?? "", int.TryParse(map.GetValueOrDefault("f"), out var f) ? f : 0)
            : null;
    }

    // One more wrong code; at the limit the pending login is gone (its token is dead).
    private const string FailScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
        local n = redis.call('HINCRBY', KEYS[1], 'f', 1)
        if n >= tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) end
        return n
        """;

    /// <summary>Counts a wrong code against the pending login; returns how many so far (the login ends at the limit).</summary>
    public async Task<long> FailLoginAsync(string token) =>
        (long)await Db.ScriptEvaluateAsync(FailScript, [PendingKey(HashOf(token))], [mfa.Value.MaxCodeFailures]);

    /// <summary>Ends the pending login; true for exactly one caller (of two racing with the same token, one wins).</summary>
    public Task<bool> CompleteLoginAsync(string token) => Db.KeyDeleteAsync(PendingKey(HashOf(token)));

    // ---- WebAuthn ceremonies ---------------------------------------------------------------------------------------

    /// <summary>Stores a ceremony; returns its id (a secret: whoever holds it may answer the challenge).</summary>
    public async Task<string> StartCeremonyAsync(Ceremony ceremony)
    {
        var id = NewSecret(24);
        await Db.StringSetAsync(CeremonyKey(HashOf(id)), JsonSerializer.Serialize(ceremony, Json), webAuthn.Value.ChallengeLifetime);
        return id;
    }

    /// <summary>Takes a ceremony: single use, so the second attempt with the same id finds nothing (GETDEL).</summary>
    public async Task<Ceremony?> TakeCeremonyAsync(string id)
    {
        var value = await Db.StringGetDeleteAsync(CeremonyKey(HashOf(id)));
        return value.IsNull ? null : JsonSerializer.Deserialize<Ceremony>(value.ToString(), Json);
    }
}
