using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Tokens;

namespace SessionGate.Tests.Admin;

public sealed class HardeningTests_Opaque(AppFixture<Opaque> fx) : HardeningTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class HardeningTests_Blacklist(AppFixture<Blacklist> fx) : HardeningTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class HardeningTests_SessionCache(AppFixture<SessionCache> fx) : HardeningTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

/// <summary>Roles that cannot impersonate the platform, bad input that never reaches PostgreSQL, and responses that say what they must.</summary>
public abstract class HardeningTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task An_unknown_permission_is_refused_with_400_for_every_caller_and_the_known_ones_are_listed()
    {
        var platform = await fx.PlatformAdminAsync();
        var alice = await fx.AliceAsync();
        foreach (var (caller, url) in new[] { (platform, "/admin/roles?tenant=acme"), (alice, "/admin/roles") })
        {
            var response = await fx.Api.SendAsync(HttpMethod.Post, url, caller, new { name = "r" + Guid.NewGuid().ToString("N")[..8], permissions = new[] { "users:read", "made:up" } });
            var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.Validation);
            Assert.Equal("permissions", problem.Field);
        }
        var listed = await fx.Api.GetAsync<string[]>("/admin/permissions", alice);
        Assert.Equal(Permissions.All.Order(), listed.Order());
        var plain = await fx.Api.LoginAsync(await fx.NewUserAsync(["reporter"]));
        await Problem.AssertAsync(await fx.Api.GetAsync("/admin/permissions", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
    }

    [Fact]
    public async Task Platform_role_names_belong_to_the_system_tenant_only()
    {
        var alice = await fx.AliceAsync();
        var refused = await fx.Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name = "platform-admin", permissions = Array.Empty<string>() });
        var problem = await Problem.AssertAsync(refused, HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal("name", problem.Field);
        Assert.DoesNotContain(await fx.Api.GetAsync<RoleItem[]>("/admin/roles", alice), r => r.Name == "platform-admin");
        // The system tenant has its platform-admin role (seeded), so the name itself is fine there.
        var system = await fx.Api.GetAsync<RoleItem[]>("/admin/roles?tenant=system", await fx.PlatformAdminAsync());
        Assert.Contains(system, r => r.Name == "platform-admin");
    }

    [Fact]
    public async Task A_403_names_the_missing_permission()
    {
        var plain = await fx.Api.LoginAsync(await fx.NewUserAsync(["reporter"]));
        var problem = await Problem.AssertAsync(await fx.Api.GetAsync("/admin/users", plain), HttpStatusCode.Forbidden, Problems.Forbidden);
        Assert.Equal(["users:read"], problem.RequiredPermissions!);
        Assert.Contains("users:read", problem.Detail);
    }

    [Fact]
    public async Task Roles_can_be_listed_with_roles_read_alone_and_a_tenant_admin_reads_its_own_login_policy()
    {
        var alice = await fx.AliceAsync();
        var role = "reader" + Guid.NewGuid().ToString("N")[..6];
        Assert.Equal(HttpStatusCode.Created, (await fx.Api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name = role, permissions = new[] { "roles:read" } })).StatusCode);
        var reader = await fx.Api.LoginAsync(await fx.NewUserAsync([role]));
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/admin/roles", reader)).StatusCode);
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, "/admin/roles", reader, new { name = "x" + role, permissions = Array.Empty<string>() }),
            HttpStatusCode.Forbidden, Problems.Forbidden);

        var policy = await fx.Api.GetAsync<LoginPolicyBody>("/admin/tenants/acme/login-policy", alice);
        Assert.Contains(policy.Policy, new[] { "Multiple", "Single", "PerDeviceType", "MaxN" });
        Assert.Contains(policy.OnLimit, new[] { "KickOldest", "RejectNew" });
        await Problem.AssertAsync(await fx.Api.GetAsync("/admin/tenants/system/login-policy", alice), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await fx.Api.GetAsync("/admin/tenants/acme/login-policy", reader), HttpStatusCode.Forbidden, Problems.Forbidden);
    }

    // A NUL in the path itself never gets this far (Kestrel, and the test client, refuse to decode it).
    [Theory]
    [InlineData("/admin/users?tenant=ac%00me")]
    [InlineData("/admin/audit?type=login%00failed")]
    [InlineData("/admin/roles?tenant=%00")]
    public async Task A_nul_in_a_query_value_is_refused_before_anything_reads_it(string url)
    {
        var platform = await fx.PlatformAdminAsync();
        await Problem.AssertAsync(await fx.Api.GetAsync(url, platform), HttpStatusCode.BadRequest, Problems.Validation);
    }

    [Fact]
    public async Task A_body_over_the_limit_gets_413_before_it_is_read()
    {
        var big = "{\"tenant\":\"acme\",\"username\":\"bob\",\"password\":\"" + new string('x', 70 * 1024) + "\"}";
        var response = await fx.Api.Http.PostAsync("/auth/login", new StringContent(big, Encoding.UTF8, "application/json"));
        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, Problems.RequestTooLarge);
    }

    [Fact]
    public async Task Responses_forbid_sniffing_and_framing_and_logout_clears_site_data()
    {
        var live = await fx.Api.GetAsync("/health/live");
        Assert.Equal("nosniff", live.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Contains("frame-ancestors 'none'", live.Headers.GetValues("Content-Security-Policy").Single());
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        var logout = await fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", login);
        Assert.Equal("\"cookies\"", logout.Headers.GetValues("Clear-Site-Data").Single());
    }

    [Fact]
    public async Task A_spent_refresh_token_is_caught_for_as_long_as_its_family_lives()
    {
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        if (!TMode.HasRefreshTokens)
        {
            // No refresh token in this mode: a refresh is refused as such, whatever it carries.
            Assert.Null(login.Refresh);
            await Problem.AssertAsync(await fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Bearer }),
                HttpStatusCode.BadRequest, Problems.NotSupportedInMode);
            return;
        }
        var rotated = await fx.Api.RefreshAsync(login);
        // Long after the spent token's own idle limit, the clean-up runs: it must keep the spent token.
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database)))
            await db.RefreshTokens.Where(r => r.ConsumedAt != null).ExecuteUpdateAsync(u => u.SetProperty(r => r.IdleExpiresAt, DateTimeOffset.UtcNow.AddHours(-1)));
        await fx.Factory.Services.GetRequiredService<SessionJanitor>().RunOnceAsync(default);
        var reuse = await fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
        await Problem.AssertAsync(reuse, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        await Problem.AssertAsync(await fx.Api.GetAsync("/auth/me", rotated), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "refresh-reused");
    }

    [Fact]
    public async Task The_discovery_document_takes_its_origin_from_configuration_not_the_host_header()
    {
        // Even where any Host is answered (the shipped AllowedHosts already refuses this one with 400).
        var configured = fx.AnotherInstance(s =>
        {
            s["Jwt:PublicOrigin"] = "https://auth.example.test";
            s["AllowedHosts"] = "*";
        });
        var response = await configured.SendAsync(HttpMethod.Get, "/.well-known/openid-configuration", configure: r => r.Headers.Host = "evil.example");
        var discovery = await response.ReadAsync<Discovery>();
        Assert.Equal("https://auth.example.test/.well-known/jwks.json", discovery.JwksUri);
        Assert.Contains("max-age", response.Headers.CacheControl!.ToString());
    }
}

public sealed class KeyRevocationTests_Opaque(AppFixture<Opaque> fx) : KeyRevocationTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class KeyRevocationTests_Blacklist(AppFixture<Blacklist> fx) : KeyRevocationTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class KeyRevocationTests_SessionCache(AppFixture<SessionCache> fx) : KeyRevocationTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

/// <summary>An emergency key revocation: the key leaves the JWKS, its tokens die on every instance, a new key signs.</summary>
public abstract class KeyRevocationTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_revoked_key_leaves_the_jwks_and_its_tokens_die_everywhere()
    {
        var second = fx.AnotherInstance(_ => { });
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        var later = await fx.NewUserAsync(); // created now: in the JWT modes the admins' own tokens die with the key too
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/auth/me", login)).StatusCode);
        var kid = (await Jwks.KidsAsync(fx.Api))[0];
        var platform = await fx.PlatformAdminAsync();
        if (TMode.BearerIsJwt) Assert.Equal(kid, new JsonWebToken(login.Bearer).Kid);

        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, "/admin/keys/no-such-kid/revoke", platform), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, $"/admin/keys/{kid}/revoke", await fx.AliceAsync()), HttpStatusCode.Forbidden, Problems.Forbidden);
        var newKid = (await (await fx.Api.SendAsync(HttpMethod.Post, $"/admin/keys/{kid}/revoke", platform)).ReadAsync<RotatedKey>()).Kid;
        Assert.NotEqual(kid, newKid);

        var after = await Jwks.KidsAsync(fx.Api);
        Assert.DoesNotContain(kid, after);
        Assert.Contains(newKid, after);
        if (TMode.BearerIsJwt)
        {
            // Access tokens signed with it are refused at once, here and on the other instance (told over pub/sub).
            await Problem.AssertAsync(await fx.Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
            var there = await Eventually.StatusAsync(() => second.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(3));
            await Problem.AssertAsync(there, HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        }
        var fresh = await fx.Api.LoginAsync(later);
        Assert.Equal(HttpStatusCode.OK, (await second.GetAsync("/auth/me", fresh)).StatusCode);
        if (TMode.BearerIsJwt) Assert.Equal(newKid, new JsonWebToken(fresh.Bearer).Kid);
    }
}

public sealed class KeyRingCertificateFixture : AppFixture<Opaque>
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "sg-dp-" + Guid.NewGuid().ToString("N")[..8] + ".pfx");

    public override async Task InitializeAsync()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=SessionGate key ring", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        await File.WriteAllBytesAsync(_path, certificate.Export(X509ContentType.Pfx, "pfx-password"));
        await base.InitializeAsync();
    }

    protected override void Configure(IDictionary<string, string?> s)
    {
        s["DataProtection:CertificatePath"] = _path;
        s["DataProtection:CertificatePassword"] = "pfx-password";
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        File.Delete(_path);
    }
}

/// <summary>The key ring that protects the signing keys is encrypted at rest when a certificate is configured (mode-independent).</summary>
public sealed class KeyRingCertificateTests(KeyRingCertificateFixture fx) : IClassFixture<KeyRingCertificateFixture>
{
    [Fact]
    public async Task With_a_certificate_the_key_ring_is_stored_encrypted_and_the_app_works()
    {
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", login)).StatusCode);
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        var xml = await db.DataProtectionKeys.Select(k => k.Xml).ToListAsync();
        Assert.NotEmpty(xml);
        Assert.All(xml, x => Assert.Contains("encryptedSecret", x));
        Assert.DoesNotContain("No XML encryptor configured", fx.Logs.All);
        Assert.DoesNotContain("stored unencrypted", fx.Logs.All);
    }
}
