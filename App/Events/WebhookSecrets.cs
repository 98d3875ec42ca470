using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;

namespace SessionGate.Events;

/// <summary>
/// Endpoint secrets: <c>whsec_</c> and 32 random bytes in base64, as Standard Webhooks recommends. A secret must sign,
/// so it is kept protected with Data Protection (whose key ring is in PostgreSQL, like the signing keys'), shown once
/// when it is made, and never logged.
/// </summary>
public sealed class WebhookSecrets(IDataProtectionProvider dataProtection)
{
    public const string Prefix = "whsec_";

    private readonly IDataProtector _protector = dataProtection.CreateProtector("SessionGate.Webhooks.v1");

    public static string New() => Prefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public string Protect(string secret) => _protector.Protect(secret);

    public string Unprotect(string protectedSecret) => _protector.Unprotect(protectedSecret);
}
