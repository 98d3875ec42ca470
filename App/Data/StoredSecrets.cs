using System.Linq.Expressions;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.WebUtilities;

namespace SessionGate.Data;

/// <summary>
/// A column of values protected with Data Protection (one purpose), which must follow the key ring when it changes.
/// Every feature that stores a protected value registers its column (<see cref="StoredSecrets.AddStoredSecret{T}"/>).
/// </summary>
public sealed class StoredSecretColumn(string name, string purpose, Func<AppDbContext, IDataProtector, CancellationToken, Task<int>> reprotect)
{
    public string Name => name;
    public string Purpose => purpose;
    internal Task<int> ReprotectAsync(AppDbContext db, IDataProtector protector, CancellationToken ct) => reprotect(db, protector, ct);
}

/// <summary>
/// Encrypting what is already stored, once a certificate is configured (<see cref="DataProtectionCertificate"/>).
/// Configuring one only encrypts keys made from then on; so at start, while any key of the ring is still stored in
/// plain text, this makes a new key (encrypted under the certificate, and the default from now on), re-protects
/// every stored secret under it, and deletes the plain-text keys. A copy of the database then yields nothing without
/// the certificate. It runs under an advisory lock, so instances starting together do it once; all of them must
/// have the certificate (an instance without it cannot read the new key).
/// </summary>
public static partial class StoredSecrets
{
    private const long LockId = 0x5345_5347_4450_524B; // "SESGDPRK"

    /// <summary>Registers a column of protected values (<paramref name="purpose"/> is the protector's purpose string).</summary>
    public static IServiceCollection AddStoredSecret<T>(this IServiceCollection services, string purpose, Func<AppDbContext, DbSet<T>> rows,
        Expression<Func<T, string>> column, Action<T, string> set) where T : class
    {
        var read = column.Compile();
        return services.AddSingleton(new StoredSecretColumn(typeof(T).Name, purpose, async (db, protector, ct) =>
        {
            var all = await rows(db).ToListAsync(ct);
            foreach (var row in all) set(row, protector.Protect(protector.Unprotect(read(row))));
            return all.Count;
        }));
    }

    /// <summary>Does the work described on the class, when a certificate is configured and a plain-text key remains.</summary>
    public static async Task ProtectUnderCertificateAsync(IServiceProvider services, ILogger logger, CancellationToken ct = default)
    {
        if (!DataProtectionCertificate.IsConfigured(services.GetRequiredService<IConfiguration>())) return;
        using var scope = services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({LockId})", ct);
        var plain = (await db.DataProtectionKeys.ToListAsync(ct)).Where(k => IsPlainTextKey(k.Xml)).ToList();
        if (plain.Count == 0) return;

        // Data Protection writes the key through its own context; it is encrypted under the certificate, and being
        // the most recently activated key, it becomes the default at once.
        var keys = services.GetRequiredService<IKeyManager>();
        var now = DateTimeOffset.UtcNow;
        var key = keys.CreateNewKey(activationDate: now, expirationDate: now.AddDays(90));
        var provider = services.GetRequiredService<IDataProtectionProvider>();
        var rows = 0;
        foreach (var column in services.GetServices<StoredSecretColumn>())
        {
            var protector = provider.CreateProtector(column.Purpose);
            if (KeyIdOf(protector.Protect("probe")) != key.KeyId)
                throw new InvalidOperationException("Data Protection did not switch to the key it just made; nothing was re-protected.");
            rows += await column.ReprotectAsync(db, protector, ct);
        }
        db.DataProtectionKeys.RemoveRange(plain);
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        LogReprotected(logger, rows, plain.Count, key.KeyId);
    }

    /// <summary>A key element whose master key is not wrapped in an <c>encryptedSecret</c> (revocations carry no secret).</summary>
    internal static bool IsPlainTextKey(string? xml)
    {
        if (string.IsNullOrEmpty(xml)) return false;
        var element = XElement.Parse(xml);
        return element.Name.LocalName == "key" && !element.Descendants().Any(e => e.Name.LocalName == "encryptedSecret");
    }

    // A protected payload starts with a 4-byte magic header and the 16-byte id of the key that protected it.
    private static Guid KeyIdOf(string protectedValue) => new(WebEncoders.Base64UrlDecode(protectedValue).AsSpan(4, 16));

    [LoggerMessage(Level = LogLevel.Warning, Message = "A Data Protection certificate is configured and plain-text keys were stored: {Rows} stored secrets are re-protected under the new encrypted key {KeyId}, and the {Keys} plain-text keys are deleted")]
    private static partial void LogReprotected(ILogger logger, int rows, int keys, Guid keyId);
}
