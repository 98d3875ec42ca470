using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using SessionGate.Data;
using SessionGate.Infrastructure;

namespace SessionGate.Tokens;

/// <summary>
/// The signing keys. Asymmetric keys live in PostgreSQL with their private part protected by Data Protection
/// (whose key ring is in PostgreSQL too), so every instance signs and verifies with the same set. Each instance
/// re-reads the set periodically and whenever it meets a kid it does not know.
/// </summary>
public sealed partial class KeyRing(
    IServiceScopeFactory scopes,
    IOptions<JwtOptions> jwtOptions,
    IDataProtectionProvider dataProtection,
    TimeProvider time,
    ILogger<KeyRing> logger)
{
    private static readonly TimeSpan ReloadEvery = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan UnknownKidReloadThrottle = TimeSpan.FromSeconds(2);
    private const long KeyLockId = 0x5345_5347_4B45_5953; // "SESGKEYS"

    private readonly JwtOptions _jwt = jwtOptions.Value;
    private readonly IDataProtector _protector = dataProtection.CreateProtector("SessionGate.SigningKeys.v1");
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile KeySet? _current;
    private DateTimeOffset _loadedAt;

    public sealed record KeySet(SigningCredentials Signing, IReadOnlyDictionary<string, SecurityKey> Keys, string Jwks);

    public bool IsSymmetric => _jwt.Algorithm == "HS256";

    public async ValueTask<KeySet> GetAsync(CancellationToken ct = default)
    {
        var set = _current;
        if (set is not null && time.GetUtcNow() - _loadedAt < ReloadEvery) return set;
        return await ReloadAsync(ct);
    }

    /// <summary>Finds a validation key by kid, re-reading the set (throttled) when the kid is new to this instance.</summary>
    public async ValueTask<SecurityKey?> FindAsync(string? kid, CancellationToken ct = default)
    {
        if (string.IsNullOrEmpty(kid) || kid.Length > 64) return null;
        var set = await GetAsync(ct);
        if (set.Keys.TryGetValue(kid, out var key)) return key;
        if (time.GetUtcNow() - _loadedAt < UnknownKidReloadThrottle) return null;
        set = await ReloadAsync(ct);
        return set.Keys.GetValueOrDefault(kid);
    }

    public async Task<KeySet> ReloadAsync(CancellationToken ct = default)
    {
        await _gate.WaitAsync(ct);
        try
        {
            var set = IsSymmetric ? SymmetricSet() : await LoadAsymmetricAsync(ct);
            _current = set;
            _loadedAt = time.GetUtcNow();
            return set;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Adds a new current key; the old ones stay published and valid until their tokens have expired.</summary>
    public async Task<string> RotateAsync(CancellationToken ct)
    {
        if (IsSymmetric) throw new InvalidOperationException("HS256 keys come from configuration.");
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({KeyLockId})", ct);
        var now = time.GetUtcNow();
        // Other instances may sign with the old key until their next reload, and verifiers may cache the JWKS
        // (max-age 60 s): keep it published for all of that too.
        var retireAt = now + MaxTokenLifetime + _jwt.ClockSkew + ReloadEvery + TimeSpan.FromSeconds(60);
        await db.SigningKeys
            .Where(k => k.Algorithm == _jwt.Algorithm && (k.RetiresAt == null || k.RetiresAt > retireAt))
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.RetiresAt, retireAt), ct);
        var key = NewKey(now);
        db.SigningKeys.Add(key);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        await ReloadAsync(ct);
        return key.Kid;
    }

    private TimeSpan MaxTokenLifetime =>
        _jwt.AccessTokenLifetime > _jwt.InternalTokenLifetime ? _jwt.AccessTokenLifetime : _jwt.InternalTokenLifetime;

    private KeySet SymmetricSet()
    {
        var secret = Encoding.UTF8.GetBytes(_jwt.HmacSecret!);
        var kid = "hs-" + Convert.ToHexStringLower(SHA256.HashData(secret))[..16];
        var key = new SymmetricSecurityKey(secret) { KeyId = kid };
        // A shared secret is never published.
        return new KeySet(new SigningCredentials(key, SecurityAlgorithms.HmacSha256), new Dictionary<string, SecurityKey> { [kid] = key }, """{"keys":[]}""");
    }

    private async Task<KeySet> LoadAsymmetricAsync(CancellationToken ct)
    {
        using var scope = scopes.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var now = time.GetUtcNow();
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
                LogKeyCreated(logger, key.Kid, key.Algorithm);
            }
            await tx.CommitAsync(ct);
        }

        var keys = new Dictionary<string, SecurityKey>();
        var jwks = new List<Dictionary<string, string>>();
        SigningCredentials? signing = null;
        foreach (var row in rows.OrderByDescending(r => r.CreatedAt))
        {
            var pkcs8 = Convert.FromBase64String(_protector.Unprotect(row.ProtectedPrivateKey));
            var (privateKey, jwk) = Materialize(row, pkcs8);
            keys[row.Kid] = privateKey;
            jwks.Add(jwk);
            if (signing is null && row.RetiresAt is null)
                signing = new SigningCredentials(privateKey, row.Algorithm == "RS256" ? SecurityAlgorithms.RsaSha256 : SecurityAlgorithms.EcdsaSha256);
        }
        return new KeySet(signing!, keys, JsonSerializer.Serialize(new { keys = jwks }));
    }

    private async Task<List<SigningKey>> ActiveKeysAsync(AppDbContext db, DateTimeOffset now, CancellationToken ct) =>
        await db.SigningKeys.AsNoTracking()
            .Where(k => k.Algorithm == _jwt.Algorithm && (k.RetiresAt == null || k.RetiresAt > now))
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
