using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.DataProtection;
using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>
/// Session ids and refresh tokens: a one-byte key id, 256 random bits and a 120-bit HMAC-SHA256 tag (over the key id
/// and the random bits) under that server key, base64url (64 characters). Only ids this service issued carry a valid
/// tag, so a forged or random id is refused without any I/O, and a flood of them costs neither Redis nor PostgreSQL.
/// Only the SHA-256 of an id is ever stored. The keys live in PostgreSQL under Data Protection, shared by every
/// instance.
/// <para>
/// Rotation (<see cref="RotateAsync"/>): the new key is known to every instance before any of them issues with it
/// (<see cref="SessionIdKeyOptions.ActivationDelay"/>, longer than <see cref="ReloadInterval"/>), and the previous
/// key keeps verifying for <see cref="SessionIdKeyOptions.Overlap"/> after that, so no session ends early because of
/// a routine rotation. Ids made before key ids existed (32 random bytes, then a 16-byte tag) verify under the first
/// key for as long as it lives.
/// </para>
/// </summary>
public sealed partial class SessionSecrets(
    IDataProtectionProvider dataProtection, IOptions<SessionIdKeyOptions> options, IServiceScopeFactory scopes, ILogger<SessionSecrets> logger)
{
    public const int EncodedLength = 64;
    /// <summary>The Data Protection purpose of every server secret (see <see cref="ServerSecret"/>).</summary>
    public const string ProtectorPurpose = "SessionGate.ServerSecrets.v1";
    /// <summary>How often every instance re-reads the keys (and so learns of a rotation).</summary>
    public static readonly TimeSpan ReloadInterval = TimeSpan.FromSeconds(30);

    private const int RandomBytes = 32;
    private const int TagBytes = 15;        // 1 + 32 + 15 = 48 bytes: still 64 characters
    private const int LegacyTagBytes = 16;  // before key ids: 32 + 16
    private const string KeyName = "session-id-mac"; // key id 0; the later ones are "session-id-mac:<id>"
    private const long KeyLockId = 0x5345_5347_5349_4453; // "SESGSIDS"

    private readonly IDataProtector _protector = dataProtection.CreateProtector(ProtectorPurpose);
    private TimeProvider _time = TimeProvider.System;
    private volatile Ring? _ring;

    /// <summary>
    /// The keys in hand. <see cref="Keys"/> is indexed by key id; a key with a retirement time stops verifying then
    /// (checked only for such keys, so the steady state reads no clock). <see cref="Pending"/> is the next key, used
    /// for new ids from <see cref="PendingFrom"/>.
    /// </summary>
    private sealed record Ring(byte[]?[] Keys, DateTimeOffset?[] RetiresAt, byte Current, byte? Pending, DateTimeOffset PendingFrom, bool AcceptsLegacy);

    /// <summary>One key as the admin API and the command report it.</summary>
    public sealed record KeyInfo(int Id, DateTimeOffset ActiveFrom, DateTimeOffset? RetiresAt);

    /// <summary>Loads the keys, creating the first on the very first start (under an advisory lock, so instances agree).</summary>
    public async Task InitializeAsync(AppDbContext db, TimeProvider time, CancellationToken ct = default)
    {
        _time = time;
        if (!await db.ServerSecrets.AsNoTracking().AnyAsync(IsIdKey, ct))
        {
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({KeyLockId})", ct);
            if (!await db.ServerSecrets.AsNoTracking().AnyAsync(IsIdKey, ct))
            {
                var now = time.GetUtcNow();
                db.ServerSecrets.Add(new ServerSecret { Name = KeyName, ProtectedValue = NewKeyValue(), CreatedAt = now, ActiveFrom = now });
                await db.SaveChangesAsync(ct);
            }
            await tx.CommitAsync(ct);
        }
        await LoadAsync(db, ct);
    }

    /// <summary>Re-reads the keys every <see cref="ReloadInterval"/> until <paramref name="stopping"/>; a failed read keeps the keys in hand.</summary>
    public void StartReloading(CancellationToken stopping) => _ = Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(ReloadInterval, _time);
        var failing = false;
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await ReloadAsync(stopping);
                    if (failing) LogReloadRecovered(logger);
                    failing = false;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    if (!failing) LogReloadFailed(logger, e.GetType().Name);
                    failing = true;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }, CancellationToken.None);

    public async Task ReloadAsync(CancellationToken ct = default)
    {
        using var scope = scopes.CreateScope();
        await LoadAsync(scope.ServiceProvider.GetRequiredService<AppDbContext>(), ct);
    }

    /// <summary>
    /// Adds the next key inside the caller's transaction on <paramref name="db"/> (the caller saves and commits, then
    /// calls <see cref="ReloadAsync"/>). New ids use it from <c>now + ActivationDelay</c>; every older key keeps
    /// verifying until <c>Overlap</c> after that, then is refused. Keys past their retirement are deleted.
    /// </summary>
    public async Task<KeyInfo> RotateAsync(AppDbContext db, CancellationToken ct)
    {
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({KeyLockId})", ct);
        var now = _time.GetUtcNow();
        var rows = await db.ServerSecrets.Where(IsIdKey).ToListAsync(ct);
        var expired = rows.Where(r => r.RetiresAt <= now).ToList();
        db.ServerSecrets.RemoveRange(expired);
        var live = rows.Except(expired).ToList();

        var o = options.Value;
        var activeFrom = now + o.ActivationDelay;
        var retiresAt = activeFrom + o.Overlap;
        foreach (var row in live.Where(r => r.RetiresAt is null || r.RetiresAt > retiresAt)) row.RetiresAt = retiresAt;

        // Ids 1..255 in turn (0 is the first key's), skipping any still live.
        var used = live.Select(r => KeyIdOf(r.Name)).ToHashSet();
        var last = live.Count == 0 ? 0 : KeyIdOf(live.MaxBy(r => r.CreatedAt)!.Name);
        var id = Enumerable.Range(1, 255).Select(i => (last + i - 1) % 255 + 1).FirstOrDefault(i => !used.Contains(i));
        if (id == 0) throw new InvalidOperationException("Every session-id key id is in use; wait until older keys retire.");
        db.ServerSecrets.Add(new ServerSecret { Name = $"{KeyName}:{id}", ProtectedValue = NewKeyValue(), CreatedAt = now, ActiveFrom = activeFrom });
        return new KeyInfo(id, activeFrom, null);
    }

    /// <summary>The stored keys, newest first: ids, when each signs and until when it verifies (never the keys).</summary>
    public static async Task<List<KeyInfo>> DescribeAsync(AppDbContext db, CancellationToken ct)
    {
        var rows = await db.ServerSecrets.AsNoTracking().Where(IsIdKey).Select(r => new { r.Name, r.ActiveFrom, r.CreatedAt, r.RetiresAt }).ToListAsync(ct);
        return [.. rows.Select(r => new KeyInfo(KeyIdOf(r.Name), r.ActiveFrom ?? r.CreatedAt, r.RetiresAt)).OrderByDescending(k => k.ActiveFrom)];
    }

    private Ring CurrentRing => _ring ?? throw new InvalidOperationException("SessionSecrets is used before start-up loaded its keys.");

    public string New()
    {
        var ring = CurrentRing;
        var id = ring.Pending is { } pending && _time.GetUtcNow() >= ring.PendingFrom ? pending : ring.Current;
        Span<byte> raw = stackalloc byte[1 + RandomBytes + TagBytes];
        raw[0] = id;
        RandomNumberGenerator.Fill(raw[1..(1 + RandomBytes)]);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(ring.Keys[id]!, raw[..(1 + RandomBytes)], mac);
        mac[..TagBytes].CopyTo(raw[(1 + RandomBytes)..]);
        return Base64Url.EncodeToString(raw);
    }

    /// <summary>Whether this service issued <paramref name="value"/> under a key it still honours: the shape and the tag, checked in constant time.</summary>
    public bool IsGenuine(string value)
    {
        if (value.Length != EncodedLength) return false;
        Span<byte> raw = stackalloc byte[1 + RandomBytes + TagBytes];
        if (!Base64Url.TryDecodeFromChars(value, raw, out var written) || written != raw.Length) return false;
        var ring = CurrentRing;
        Span<byte> mac = stackalloc byte[32];
        var id = raw[0];
        if (ring.Keys[id] is { } key && Honoured(ring, id))
        {
            HMACSHA256.HashData(key, raw[..(1 + RandomBytes)], mac);
            if (CryptographicOperations.FixedTimeEquals(mac[..TagBytes], raw[(1 + RandomBytes)..])) return true;
        }
        if (!ring.AcceptsLegacy || !Honoured(ring, 0)) return false;
        HMACSHA256.HashData(ring.Keys[0]!, raw[..RandomBytes], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..LegacyTagBytes], raw[RandomBytes..]);
    }

    private bool Honoured(Ring ring, byte id) => ring.RetiresAt[id] is not { } until || _time.GetUtcNow() < until;

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>The SHA-256 of an id, without allocating (the hot path).</summary>
    public static void Hash(string secret, Span<byte> destination)
    {
        Span<byte> utf8 = stackalloc byte[EncodedLength];
        var n = Encoding.ASCII.GetBytes(secret, utf8);
        SHA256.HashData(utf8[..n], destination);
    }

    private static readonly System.Linq.Expressions.Expression<Func<ServerSecret, bool>> IsIdKey =
        s => s.Name == KeyName || s.Name.StartsWith(KeyName + ":");

    private static int KeyIdOf(string name) => name == KeyName ? 0 : int.Parse(name.AsSpan(KeyName.Length + 1), System.Globalization.CultureInfo.InvariantCulture);

    private string NewKeyValue() => _protector.Protect(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));

    private async Task LoadAsync(AppDbContext db, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var rows = await db.ServerSecrets.AsNoTracking().Where(IsIdKey).Where(s => s.RetiresAt == null || s.RetiresAt > now).ToListAsync(ct);
        var keys = new byte[]?[256];
        var retires = new DateTimeOffset?[256];
        foreach (var row in rows)
        {
            var id = KeyIdOf(row.Name);
            keys[id] = Convert.FromBase64String(_protector.Unprotect(row.ProtectedValue));
            retires[id] = row.RetiresAt;
        }
        var active = rows.Where(r => (r.ActiveFrom ?? r.CreatedAt) <= now).MaxBy(r => r.ActiveFrom ?? r.CreatedAt)
            ?? throw new InvalidOperationException("No session-id key is active; every key in server_secrets is retired or not yet active.");
        var pending = rows.Where(r => r.ActiveFrom > now).MaxBy(r => r.ActiveFrom);
        // The first key's row predates key ids when it has no ActiveFrom (the migration that added the column left it
        // empty): ids it made then have no key id byte, and stay valid as long as it does.
        var legacy = rows.Any(r => r.Name == KeyName && r.ActiveFrom is null);
        _ring = new Ring(keys, retires, (byte)KeyIdOf(active.Name), pending is null ? null : (byte)KeyIdOf(pending.Name),
            pending?.ActiveFrom ?? DateTimeOffset.MaxValue, legacy);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Re-reading the session-id keys failed ({ExceptionType}); the keys in hand keep serving")]
    private static partial void LogReloadFailed(ILogger logger, string exceptionType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Session-id keys re-read again")]
    private static partial void LogReloadRecovered(ILogger logger);
}

/// <summary>The rotation of the key that MACs session ids and refresh tokens (<c>SessionIdKey</c> section).</summary>
public sealed class SessionIdKeyOptions
{
    /// <summary>How long ids issued under the previous key stay valid once the new key signs; at least the longest a session lives (<c>Session:AbsoluteTimeout</c>) so a routine rotation ends no session.</summary>
    public TimeSpan Overlap { get; set; } = TimeSpan.FromHours(12);

    /// <summary>How long after a rotation the new key starts signing: every instance must have re-read the keys by then (they do every 30 s).</summary>
    public TimeSpan ActivationDelay { get; set; } = TimeSpan.FromMinutes(2);

    public static IServiceCollection Register(IServiceCollection services)
    {
        services.AddOptions<SessionIdKeyOptions>().BindConfiguration("SessionIdKey")
            .Validate(o => o.Overlap >= TimeSpan.Zero && o.Overlap <= TimeSpan.FromDays(30), "SessionIdKey:Overlap must be between 0 and 30 days.")
            .Validate(o => o.ActivationDelay >= TimeSpan.Zero && o.ActivationDelay <= TimeSpan.FromDays(1), "SessionIdKey:ActivationDelay must be between 0 and 1 day.")
            .ValidateOnStart();
        return services;
    }
}
