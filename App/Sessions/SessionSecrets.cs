using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>
/// Session ids and refresh tokens: 256 random bits plus a 128-bit HMAC-SHA256 tag under a server key, base64url
/// (64 characters). Only ids this service issued carry a valid tag, so a forged or random id is refused without
/// any I/O, and a flood of them costs neither Redis nor PostgreSQL. Only the SHA-256 of an id is ever stored.
/// The key is generated once, kept in PostgreSQL under Data Protection, and shared by every instance.
/// </summary>
public sealed class SessionSecrets(IDataProtectionProvider dataProtection)
{
    public const int EncodedLength = 64;
    private const int RandomBytes = 32;
    private const int TagBytes = 16;
    private const string KeyName = "session-id-mac";
    private const long KeyLockId = 0x5345_5347_5349_4453; // "SESGSIDS"

    private readonly IDataProtector _protector = dataProtection.CreateProtector("SessionGate.ServerSecrets.v1");
    private byte[]? _key;

    /// <summary>Loads the key, creating it on the very first start (under an advisory lock, so instances agree).</summary>
    public async Task InitializeAsync(AppDbContext db, TimeProvider time, CancellationToken ct = default)
    {
        var row = await db.ServerSecrets.AsNoTracking().FirstOrDefaultAsync(s => s.Name == KeyName, ct);
        if (row is null)
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({KeyLockId})", ct);
            row = await db.ServerSecrets.AsNoTracking().FirstOrDefaultAsync(s => s.Name == KeyName, ct);
            if (row is null)
            {
                row = new ServerSecret
                {
                    Name = KeyName,
                    ProtectedValue = _protector.Protect(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))),
                    CreatedAt = time.GetUtcNow(),
                };
                db.ServerSecrets.Add(row);
                await db.SaveChangesAsync(ct);
            }
            await tx.CommitAsync(ct);
        }
        _key = Convert.FromBase64String(_protector.Unprotect(row.ProtectedValue));
    }

    private byte[] Key => _key ?? throw new InvalidOperationException("SessionSecrets is used before start-up loaded its key.");

    public string New()
    {
        Span<byte> raw = stackalloc byte[RandomBytes + TagBytes];
        RandomNumberGenerator.Fill(raw[..RandomBytes]);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(Key, raw[..RandomBytes], mac);
        mac[..TagBytes].CopyTo(raw[RandomBytes..]);
        return Base64Url.EncodeToString(raw);
    }

    /// <summary>Whether this service issued <paramref name="value"/>: the shape and the tag, checked in constant time.</summary>
    public bool IsGenuine(string value)
    {
        if (value.Length != EncodedLength) return false;
        Span<byte> raw = stackalloc byte[RandomBytes + TagBytes];
        if (!Base64Url.TryDecodeFromChars(value, raw, out var written) || written != raw.Length) return false;
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(Key, raw[..RandomBytes], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..TagBytes], raw[RandomBytes..]);
    }

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>The SHA-256 of an id, without allocating (the hot path).</summary>
    public static void Hash(string secret, Span<byte> destination)
    {
        Span<byte> utf8 = stackalloc byte[EncodedLength];
        var n = Encoding.ASCII.GetBytes(secret, utf8);
        SHA256.HashData(utf8[..n], destination);
    }
}
