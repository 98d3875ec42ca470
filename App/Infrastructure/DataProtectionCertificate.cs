using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography.Xml;
using System.Xml;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace SessionGate.Infrastructure;

/// <summary>
/// The certificate that encrypts the Data Protection key ring at rest (<c>DataProtection</c> section): a PKCS#12
/// file (<c>CertificatePath</c>, <c>CertificatePassword</c>) or a certificate in the current user's store
/// (<c>CertificateThumbprint</c>). None configured: the key ring is stored unencrypted, and start-up warns.
/// <para>
/// New keys are encrypted with ASP.NET Core's own <see cref="CertificateXmlEncryptor"/>; they are decrypted with the
/// same configured certificate (read when first needed, like every other setting), without installing it in a
/// certificate store.
/// </para>
/// </summary>
public static class DataProtectionCertificate
{
    public static void Register(IServiceCollection services) =>
        services.AddOptions<KeyManagementOptions>().Configure<IConfiguration, ILoggerFactory>((o, c, logs) =>
        {
            if (Load(c) is { } certificate) o.XmlEncryptor = new Encryptor(certificate, logs);
        });

    public static bool IsConfigured(IConfiguration configuration) =>
        !string.IsNullOrEmpty(configuration["DataProtection:CertificatePath"]) || !string.IsNullOrEmpty(configuration["DataProtection:CertificateThumbprint"]);

    public static X509Certificate2? Load(IConfiguration configuration)
    {
        var path = configuration["DataProtection:CertificatePath"];
        if (!string.IsNullOrEmpty(path))
        {
            if (!File.Exists(path)) throw new InvalidOperationException($"DataProtection:CertificatePath names no file: {path}");
            var certificate = X509CertificateLoader.LoadPkcs12FromFile(path, configuration["DataProtection:CertificatePassword"]);
            return certificate.HasPrivateKey ? certificate
                : throw new InvalidOperationException("DataProtection:CertificatePath must hold the private key (a PKCS#12 file).");
        }
        var thumbprint = configuration["DataProtection:CertificateThumbprint"];
        if (string.IsNullOrEmpty(thumbprint)) return null;
        using var store = new X509Store(StoreName.My, StoreLocation.CurrentUser);
        store.Open(OpenFlags.ReadOnly);
        return store.Certificates.Find(X509FindType.FindByThumbprint, thumbprint, validOnly: false).FirstOrDefault()
            ?? throw new InvalidOperationException($"DataProtection:CertificateThumbprint {thumbprint} is not in the CurrentUser/My store.");
    }

    private sealed class Encryptor(X509Certificate2 certificate, ILoggerFactory logs) : IXmlEncryptor
    {
        public EncryptedXmlInfo Encrypt(XElement plaintextElement) =>
            new(new CertificateXmlEncryptor(certificate, logs).Encrypt(plaintextElement).EncryptedElement, typeof(Decryptor));
    }

    /// <summary>Created by Data Protection (by type name, from the stored key) whenever a key is read.</summary>
    public sealed class Decryptor(IServiceProvider services) : IXmlDecryptor
    {
        public XElement Decrypt(XElement encryptedElement)
        {
            var certificate = Load(services.GetRequiredService<IConfiguration>())
                ?? throw new InvalidOperationException("The key ring is encrypted, but no DataProtection certificate is configured.");
            var document = new XmlDocument();
            document.Load(new XElement("root", encryptedElement).CreateReader());
            new WithCertificate(document, certificate).DecryptDocument();
            return XElement.Load(document.DocumentElement!.FirstChild!.CreateNavigator()!.ReadSubtree());
        }
    }

    private sealed class WithCertificate(XmlDocument document, X509Certificate2 certificate) : EncryptedXml(document)
    {
        public override byte[]? DecryptEncryptedKey(EncryptedKey encryptedKey)
        {
            using var rsa = certificate.GetRSAPrivateKey() ?? throw new CryptographicException("The DataProtection certificate has no RSA private key.");
            var oaep = encryptedKey.EncryptionMethod?.KeyAlgorithm == XmlEncRSAOAEPUrl;
            return DecryptKey(encryptedKey.CipherData.CipherValue!, rsa, oaep);
        }
    }
}
