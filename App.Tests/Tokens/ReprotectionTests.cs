using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.EntityFrameworkCore;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Tokens;

/// <summary>
/// Configuring a Data Protection certificate on a deployment that ran without one: the plain-text key ring is
/// replaced by a key encrypted under the certificate, every stored secret (signing keys, the session-id key) is
/// re-protected under it, and what was issued before keeps working. In Blacklist mode, where both kinds of secret are
/// in play (an ES256 access token, a MAC'd refresh token); the mechanism is the same for every mode.
/// </summary>
public sealed class ReprotectionTests(AppFixture<Blacklist> fx) : IClassFixture<AppFixture<Blacklist>>, IDisposable
{
    private readonly string _pfx = Path.Combine(Path.GetTempPath(), "sg-reprotect-" + Guid.NewGuid().ToString("N")[..8] + ".pfx");

    public void Dispose() => File.Delete(_pfx);

    private void WriteCertificate()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=SessionGate key ring", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        File.WriteAllBytes(_pfx, certificate.Export(X509ContentType.Pfx, "pfx-password"));
    }

    private sealed record Stored(Dictionary<string, string> SigningKeys, Dictionary<string, string> ServerSecrets, List<string> KeyRing);

    private async Task<Stored> ReadAsync()
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.AdminConnectionFor(fx.Database));
        return new Stored(
            await db.SigningKeys.ToDictionaryAsync(k => k.Kid, k => k.ProtectedPrivateKey),
            await db.ServerSecrets.ToDictionaryAsync(s => s.Name, s => s.ProtectedValue),
            await db.DataProtectionKeys.Select(k => k.Xml!).ToListAsync());
    }

    [Fact]
    public async Task Configuring_a_certificate_re_protects_every_stored_secret_and_what_was_issued_keeps_working()
    {
        // Before: an instance without a certificate, stopped before the certificate is configured (every instance
        // must have it: one left without it cannot read the new key, and writes a plain-text one again).
        Login login;
        string jwks;
        await using (var plain = fx.NewFactory())
        {
            var api = new ApiClient(plain);
            login = await api.LoginAsync("acme", "bob", AppFixture<Blacklist>.DemoPassword);
            var platform = await api.LoginAsync("system", "admin", AppFixture<Blacklist>.AdminPassword);
            Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Post, "/admin/keys/rotate", platform)).StatusCode);
            jwks = (await api.GetJsonAsync("/.well-known/jwks.json", null)).GetRawText();
        }
        var before = await ReadAsync();
        Assert.True(before.SigningKeys.Count >= 2);
        Assert.Contains(before.KeyRing, StoredSecrets.IsPlainTextKey);

        WriteCertificate();
        void WithCertificate(Dictionary<string, string?> s)
        {
            s["DataProtection:CertificatePath"] = _pfx;
            s["DataProtection:CertificatePassword"] = "pfx-password";
        }
        var encrypted = fx.AnotherInstance(WithCertificate);
        Assert.Equal(HttpStatusCode.OK, (await encrypted.GetAsync("/health/live")).StatusCode);

        // The stored rows changed, every one of them; no plain-text key is left.
        var after = await ReadAsync();
        Assert.Equal(before.SigningKeys.Keys.Order(), after.SigningKeys.Keys.Order());
        Assert.All(before.SigningKeys, k => Assert.NotEqual(k.Value, after.SigningKeys[k.Key]));
        Assert.Equal(before.ServerSecrets.Keys.Order(), after.ServerSecrets.Keys.Order());
        Assert.All(before.ServerSecrets, s => Assert.NotEqual(s.Value, after.ServerSecrets[s.Key]));
        Assert.DoesNotContain(after.KeyRing, StoredSecrets.IsPlainTextKey);
        Assert.Contains(after.KeyRing, x => x.Contains("encryptedSecret", StringComparison.Ordinal));
        Assert.Contains("re-protected under the new encrypted key", fx.Logs.All);

        // The keys still work: the access token signed before, the refresh token MAC'd before, the same JWKS.
        Assert.Equal(HttpStatusCode.OK, (await encrypted.GetAsync("/auth/me", login)).StatusCode);
        Assert.Equal(jwks, (await encrypted.GetJsonAsync("/.well-known/jwks.json", null)).GetRawText());
        var refreshed = await encrypted.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await encrypted.GetAsync("/auth/me", await ApiClient.ReadLoginAsync(refreshed))).StatusCode);
        var fresh = await encrypted.LoginAsync("acme", "bob", AppFixture<Blacklist>.DemoPassword);
        Assert.Equal(HttpStatusCode.OK, (await encrypted.GetAsync("/auth/me", fresh)).StatusCode);

        // A later start with the certificate finds nothing in plain text and rewrites nothing.
        var again = fx.AnotherInstance(WithCertificate);
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/auth/me", fresh)).StatusCode);
        var settled = await ReadAsync();
        Assert.Equal(after.SigningKeys, settled.SigningKeys);
        Assert.Equal(after.ServerSecrets, settled.ServerSecrets);
    }
}
