using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.Tokens;
using SessionGate.Caching;
using SessionGate.Data;

namespace SessionGate.Tokens;

/// <summary>
/// The signing keys. Asymmetric keys live in PostgreSQL with their private part protected by Data Protection
/// (whose key ring is in PostgreSQL too), so every instance signs and verifies with the same set. The set is
/// re-read in the background (every minute, and at once when another instance announces a change); requests never
/// wait for PostgreSQL except when they meet a kid this instance does not know, and then only one reload runs at a
/// time while the others keep the old set. While PostgreSQL is down the set in hand keeps serving.
/// </summary>
public sealed partial class KeyRing : BackgroundService
{
    private static readonly TimeSpan ReloadEvery = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan UnknownKidReloadThrottle = TimeSpan.FromSeconds(2);
    private const long KeyLockId = 0x5345_5347_4B45_5953; // "SESGKEYS"
    /// <summary>The Data Protection purpose of the stored private keys.</summary>
    public const string ProtectorPurpose = "SessionGate.SigningKeys.v1";

    private readonly IServiceScopeFactory _scopes;
    private readonly JwtOptions _jwt;
    private readonly IDataProtector _protector;
    private readonly TimeProvider _time;
    private readonly ILogger<KeyRing> _logger;
    private readonly object _gate = new();
    private volatile KeySet? _current;
    private Task<KeySet>? _reloading;
    private DateTimeOffset _loadedAt;
    private readonly OutageLog _outage;

    public KeyRing(IServiceScopeFactory scopes, IOptions<JwtOptions> jwtOptions, IDataProtectionProvider dataProtection,
        TimeProvider time, ILogger<KeyRing> logger, InvalidationBus bus)
    {
        _scopes = scopes;
        _jwt = jwtOptions.Value;
        _protector = dataProtection.CreateProtector(ProtectorPurpose);
        _time = time;
        _logger = logger;
        _outage = new OutageLog(logger, "Re-reading the signing keys", "the keys in hand keep serving");
        bus.On<KeysInvalidated>(_ => Task.Run(() => ReloadQuietlyAsync()));
    }

    public sealed record KeySet(SigningCredentials Signing, IReadOnlyDictionary<string, SecurityKey> Keys, string Jwks, DateTimeOffset SigningKeyCreatedAt);

    public bool IsSymmetric => _jwt.Algorithm == "HS256";

    /// <summary>The set in hand (null before the first load).</summary>
    public KeySet? Current => _current;

    /// <summary>The set in hand; only the very first call waits for PostgreSQL.</summary>
    public ValueTask<KeySet> GetAsync(CancellationToken ct = default) =>
        _current is { } set ? ValueTask.FromResult(set) : new ValueTask<KeySet>(ReloadAsync(ct));

    /// <summary>Whether tokens signed with <paramref name="kid"/> are still accepted (it is in the current set).</summary>
    public bool IsUsable(string kid) => _current?.Keys.ContainsKey(kid) == true;

    /// <summary>Finds a validation key by kid, re-reading the set (single-flight, throttled) when the kid is new here.</summary>
    public async ValueTask<SecurityKey?> FindAsync(string? kid, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(kid) || kid.Length > 64) return null;
        var set = await GetAsync(ct);
        if (set.Keys.TryGetValue(kid, out var key)) return key;
        Task<KeySet> reload;
        lock (_gate)
        {
            if (_reloading is not { IsCompleted: false } && _time.GetUtcNow() - _loadedAt < UnknownKidReloadThrottle) return null;
            reload = StartReload();
        }
        try
        {
            set = await reload.WaitAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return null; // PostgreSQL is down: a kid we do not know stays unknown.
        }
        return set.Keys.GetValueOrDefault(kid);
    }

    /// <summary>Re-reads the set now (one reload at a time; callers share it).</summary>
    public Task<KeySet> ReloadAsync(CancellationToken ct = default)
    {
        lock (_gate) return StartReload().WaitAsync(ct);
    }

    // Under _gate: join the reload in flight, or start one.
    private Task<KeySet> StartReload()
    {
        if (_reloading is { IsCompleted: false } inFlight) return inFlight;
        return _reloading = LoadAndPublishAsync();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(ReloadEvery, _time);
        while (await timer.WaitForNextTickAsync(stoppingToken)) await ReloadQuietlyAsync(stoppingToken);
    }

    // Whatever fails, the keys in hand keep serving; the outage is logged once.
    private Task ReloadQuietlyAsync(CancellationToken stopping = default) => _outage.RoundAsync(() => ReloadAsync(), _ => true, stopping);

    private async Task<KeySet> LoadAndPublishAsync()
    {
        await Task.Yield(); // run outside the caller's lock
        var set = IsSymmetric ? SymmetricSet() : await LoadAsymmetricAsync(CancellationToken.None);
        _current = set;
        _loadedAt = _time.GetUtcNow();
        return set;
    }

    /// <summary>
    /// Adds a new current key inside the caller's transaction on <paramref name="db"/>; the old ones stay published
    /// and valid until their tokens have expired. The caller announces the change (outbox) and reloads.
    /// </summary>
    public async Task<string> RotateAsync(AppDbContext db, CancellationToken ct)
    {
        if (IsSymmetric) throw new InvalidOperationException("HS256 keys come from configuration.");
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({KeyLockId})", ct);
        var now = _time.GetUtcNow();
        // Other instances may sign with the old key until their next reload, and verifiers may cache the JWKS
        // (max-age 60 s): keep it published for all of that too.
        var retireAt = now + MaxTokenLifetime + _jwt.ClockSkew + ReloadEvery + TimeSpan.FromSeconds(60);
        await db.SigningKeys
            .Where(k => k.Algorithm == _jwt.Algorithm && (k.RetiresAt == null || k.RetiresAt > retireAt))
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RetiresAt, retireAt), ct);
        var key = NewKey(now);
        db.SigningKeys.Add(key);
        return key.Kid;
    }

    /// <summary>
    /// Emergency revocation inside the caller's transaction: the key leaves the set (and the JWKS) and every token it
    /// signed is refused once instances reload (the caller announces the change). If it was the signing key, a new
    /// one takes over at once. False when no live key has that kid.
    /// </summary>
    public async Task<bool> RevokeAsync(AppDbContext db, string kid, CancellationToken ct)
    {
        if (IsSymmetric) throw new InvalidOperationException("HS256 keys come from configuration.");
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({KeyLockId})", ct);
        var now = _time.GetUtcNow();
        var key = await db.SigningKeys.FirstOrDefaultAsync(k => k.Kid == kid && k.Algorithm == _jwt.Algorithm && k.RevokedAt == null, ct);
        if (key is null) return false;
        key.RevokedAt = now;
        if (key.RetiresAt is null) db.SigningKeys.Add(NewKey(now));
        return true;
    }

    private TimeSpan MaxTokenLifetime =>
        _jwt.AccessTokenLifetime > _jwt.InternalTokenLifetime ? _jwt.AccessTokenLifetime : _jwt.InternalTokenLifetime;

    private KeySet SymmetricSet()
    {
        var secret = Encoding.UTF8.GetBytes(_jwt.HmacSecret!);
        var kid = "hs-" + Convert.ToHexStringLower(SHA256.HashData(secret))[..16];
        var key = new SymmetricSecurityKey(secret) { KeyId = kid };
        // A shared secret is never published.
        return new KeySet(new SigningCredentials(key, SecurityAlgorithms.HmacSha256), new Dictionary<string, SecurityKey> { [kid] = key }, """{"keys":[]}""", DateTimeOffset.MinValue);
    }

    private async Task<KeySet> LoadAsymmetricAsync(CancellationToken ct)
    {
        using var scope = _scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = _time.GetUtcNow();
        var rows = await ActiveKeysAsync(db, now, ct);
        if (!rows.Any(r => r.RetiresAt is null))
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({KeyLockId})", ct);
            rows = await ActiveKeysAsync(db, now, ct);
            if (!rows.Any(r => r.RetiresAt is null))
            {
                var key = NewKey(now);
                db.SigningKeys.Add(key);
                await db.SaveChangesAsync(ct);
                rows.Add(key);
                LogKeyCreated(_logger, key.Kid, key.Algorithm);
            }
            await tx.CommitAsync(ct);
        }

        var keys = new Dictionary<string, SecurityKey>();
        var jwks = new List<Dictionary<string, string>>();
        SigningCredentials? signing = null;
        var signingCreatedAt = now;
        foreach (var row in rows.OrderByDescending(r => r.CreatedAt))
        {
            var pkcs8 = Convert.FromBase64String(_protector.Unprotect(row.ProtectedPrivateKey));
            var (privateKey, jwk) = Materialize(row, pkcs8);
            keys[row.Kid] = privateKey;
            jwks.Add(jwk);
            if (signing is null && row.RetiresAt is null)
            {
                signing = new SigningCredentials(privateKey, row.Algorithm == "RS256" ? SecurityAlgorithms.RsaSha256 : SecurityAlgorithms.EcdsaSha256);
                signingCreatedAt = row.CreatedAt;
            }
        }
        return new KeySet(signing!, keys, JsonSerializer.Serialize(new { keys = jwks }), signingCreatedAt);
    }

    private async Task<List<SigningKey>> ActiveKeysAsync(AppDbContext db, DateTimeOffset now, CancellationToken ct) =>
        await db.SigningKeys.AsNoTracking()
            .Where(k => k.Algorithm == _jwt.Algorithm && k.RevokedAt == null && (k.RetiresAt == null || k.RetiresAt > now))
            .ToListAsync(ct);

    private SigningKey NewKey(DateTimeOffset now)
    {
        byte[] pkcs8;
        if (_jwt.Algorithm == "RS256")
        {
            using var rsa = RSA.Create(2048);
            pkcs8 = rsa.ExportPkcs8PrivateKey();
        }
        else
        {
            using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            pkcs8 = ec.ExportPkcs8PrivateKey();
        }
        return new SigningKey
        {
            Kid = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(12)),
            Algorithm = _jwt.Algorithm,
            ProtectedPrivateKey = _protector.Protect(Convert.ToBase64String(pkcs8)),
            CreatedAt = now,
        };
    }

    private static (SecurityKey Key, Dictionary<string, string> Jwk) Materialize(SigningKey row, byte[] pkcs8)
    {
        if (row.Algorithm == "RS256")
        {
            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(pkcs8, out _);
            var p = rsa.ExportParameters(false);
            return (new RsaSecurityKey(rsa) { KeyId = row.Kid }, new()
            {
                ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = row.Kid,
                ["n"] = WebEncoders.Base64UrlEncode(p.Modulus!), ["e"] = WebEncoders.Base64UrlEncode(p.Exponent!),
            });
        }
        var ec = ECDsa.Create();
        ec.ImportPkcs8PrivateKey(pkcs8, out _);
        var q = ec.ExportParameters(false).Q;
        return (new ECDsaSecurityKey(ec) { KeyId = row.Kid }, new()
        {
            ["kty"] = "EC", ["use"] = "sig", ["alg"] = "ES256", ["kid"] = row.Kid, ["crv"] = "P-256",
            ["x"] = WebEncoders.Base64UrlEncode(q.X!), ["y"] = WebEncoders.Base64UrlEncode(q.Y!),
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created signing key {Kid} ({Algorithm})")]
    private static partial void LogKeyCreated(ILogger logger, string kid, string algorithm);
}
