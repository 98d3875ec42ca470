using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using SessionGate.Data;

namespace SessionGate.TokenExchange;

/// <summary>
/// A service that may exchange the internal JWT it received for one addressed to another service (RFC 8693). It
/// accepts tokens for its own <see cref="Audience"/> and may ask for those in <see cref="MayCall"/>.
/// </summary>
public sealed class ServiceClient
{
    public string ClientId { get; set; } = "";

    /// <summary>SHA-256 of the secret: the secret is 256 random bits, so a fast hash is enough; it is shown once.</summary>
    public byte[] SecretHash { get; set; } = [];

    public string Audience { get; set; } = "";
    public string[] MayCall { get; set; } = [];
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset SecretRotatedAt { get; set; }
}

internal sealed class ServiceClientConfiguration : IEntityTypeConfiguration<ServiceClient>
{
    public void Configure(EntityTypeBuilder<ServiceClient> b)
    {
        b.ToTable("service_clients");
        b.HasNaturalKey(c => c.ClientId, 64);
        b.Property(c => c.SecretHash).HasMaxLength(32);
        b.Property(c => c.Audience).HasMaxLength(128);
        // One client per audience: whoever holds the audience's secret may exchange every token addressed to it.
        b.HasIndex(c => c.Audience).IsUnique();
    }
}

/// <summary>Client secrets: minted, hashed, and checked in constant time; <c>client_secret_basic</c> parsing.</summary>
public static class ClientSecrets
{
    private const string Prefix = "sgcs_";

    public static string New() => Prefix + WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    /// <summary>Whether <paramref name="secret"/> matches; with no client, hashes anyway so timing says nothing.</summary>
    public static bool Matches(ServiceClient? client, string secret)
    {
        var presented = Hash(secret);
        return client is not null & CryptographicOperations.FixedTimeEquals(presented, client?.SecretHash ?? new byte[32]);
    }

    /// <summary>
    /// RFC 6749 §2.3.1: <c>Authorization: Basic base64(urlencode(client_id) ":" urlencode(client_secret))</c>; null when
    /// the header is absent or malformed.
    /// </summary>
    public static (string ClientId, string Secret)? FromBasic(string? authorization)
    {
        if (authorization is null || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..].Trim()));
        }
        catch (FormatException)
        {
            return null;
        }
        var colon = decoded.IndexOf(':');
        if (colon <= 0) return null;
        static string Unescape(string s) => Uri.UnescapeDataString(s.Replace('+', ' '));
        var id = Unescape(decoded[..colon]);
        var secret = Unescape(decoded[(colon + 1)..]);
        return id.Length is > 0 and <= 64 && secret.Length is > 0 and <= 256 ? (id, secret) : null;
    }
}
