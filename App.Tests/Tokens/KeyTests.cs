using System.Net;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Infrastructure;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Tokens;

public sealed class Rs256Fixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s) => s["Jwt:Algorithm"] = "RS256";
}

public sealed class Hs256Fixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override void Configure(IDictionary<string, string?> s)
    {
        s["Jwt:Algorithm"] = "HS256";
        s["Jwt:HmacSecret"] = "a-test-secret-that-is-at-least-32-bytes-long!";
    }
}

public sealed class KeyTests_Opaque(AppFixture<Opaque> fx) : KeyTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class KeyTests_Blacklist(AppFixture<Blacklist> fx) : KeyTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class KeyTests_SessionCache(AppFixture<SessionCache> fx) : KeyTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

public abstract class KeyTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task Jwks_publishes_public_keys_only()
    {
        var keys = (await Jwks.GetAsync(fx.Api)).Keys;
        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            Assert.Equal("EC", key.Kty);
            Assert.Equal("ES256", key.Alg);
            Assert.False(string.IsNullOrEmpty(key.Kid));
            Assert.False(Jwks.HasSecretPart(key), $"JWKS leaks a private part of {key.Kid}");
        }
    }

    [Fact]
    public async Task Rotation_adds_a_current_key_and_keeps_the_old_one_until_its_tokens_expire()
    {
        var admin = await fx.PlatformAdminAsync();
        var user = await fx.Api.LoginAsync(await fx.NewUserAsync());
        var before = await Jwks.KidsAsync(fx.Api);

        var tenantAdmin = await fx.AliceAsync();
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, "/admin/keys/rotate", tenantAdmin), HttpStatusCode.Forbidden, Problems.Forbidden);

        var kid = (await (await fx.Api.SendAsync(HttpMethod.Post, "/admin/keys/rotate", admin)).ReadAsync<RotatedKey>()).Kid;
        var after = await Jwks.KidsAsync(fx.Api);
        Assert.Contains(kid, after);
        Assert.Superset(before.ToHashSet(), after.ToHashSet());
        Assert.DoesNotContain(kid, before);

        // Tokens signed before the rotation still work; new ones carry the new kid.
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", user)).StatusCode);
        if (TMode.BearerIsJwt)
        {
            var fresh = await fx.Api.LoginAsync(await fx.NewUserAsync());
            Assert.Equal(kid, new JsonWebToken(fresh.Bearer).Kid);
            Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", fresh)).StatusCode);
        }
        var audit = await fx.Api.GetAsync<ListPage<AuditEvent>>("/admin/audit?type=key.rotated", admin);
        Assert.Contains(audit.Items, e => e.Type == "key.rotated");
    }
}

public sealed class Rs256Tests(Rs256Fixture<Blacklist> fx) : IClassFixture<Rs256Fixture<Blacklist>>
{
    [Fact]
    public async Task Rs256_keys_are_published_as_rsa_and_tokens_verify()
    {
        var keys = (await Jwks.GetAsync(fx.Api)).Keys;
        Assert.NotEmpty(keys);
        Assert.All(keys, k =>
        {
            Assert.Equal("RSA", k.Kty);
            Assert.False(Jwks.HasSecretPart(k));
        });
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        Assert.Equal("RS256", new JsonWebToken(login.Bearer).Alg);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", login)).StatusCode);
    }
}

public sealed class Hs256Tests(Hs256Fixture<SessionCache> fx) : IClassFixture<Hs256Fixture<SessionCache>>
{
    [Fact]
    public async Task Hs256_secrets_are_never_published_and_tokens_verify()
    {
        Assert.Empty((await Jwks.GetAsync(fx.Api)).Keys);
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        Assert.Equal("HS256", new JsonWebToken(login.Bearer).Alg);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/auth/me", login)).StatusCode);
    }

    [Theory]
    [InlineData("HS256", "too-short-secret")]
    [InlineData("HS256", null)]
    [InlineData("PS512", null)]
    public void The_app_refuses_to_start_with_a_weak_or_unknown_signing_setup(string algorithm, string? secret)
    {
        var bad = fx.AnotherInstance(s =>
        {
            s["Jwt:Algorithm"] = algorithm;
            s["Jwt:HmacSecret"] = secret;
        });
        var error = Assert.Throws<OptionsValidationException>(() => bad.Factory.Server);
        Assert.Contains("Jwt:", error.Message);
    }

    [Fact]
    public void The_app_refuses_hs256_when_gateway_routes_are_configured()
    {
        var bad = fx.AnotherInstance(s =>
        {
            s["Jwt:Algorithm"] = "HS256";
            s["Jwt:HmacSecret"] = "a-long-enough-shared-secret-of-40-bytes!";
            s["ReverseProxy:Routes:r:ClusterId"] = "c";
            s["ReverseProxy:Routes:r:Match:Path"] = "/r/{**rest}";
            s["ReverseProxy:Routes:r:Metadata:InternalJwtAudience"] = "r";
            s["ReverseProxy:Clusters:c:Destinations:d:Address"] = "http://127.0.0.1:1/";
        });
        var error = Assert.Throws<OptionsValidationException>(() => bad.Factory.Server);
        Assert.Contains("ReverseProxy:Routes", error.Message);
    }

    [Fact]
    public void The_app_refuses_a_gateway_route_without_an_internal_jwt_audience()
    {
        var bad = fx.AnotherInstance(s =>
        {
            s["Jwt:Algorithm"] = "ES256";
            s["ReverseProxy:Routes:r:ClusterId"] = "c";
            s["ReverseProxy:Routes:r:Match:Path"] = "/r/{**rest}";
            s["ReverseProxy:Clusters:c:Destinations:d:Address"] = "http://127.0.0.1:1/";
        });
        var error = Assert.ThrowsAny<Exception>(() => bad.Factory.Server);
        Assert.Contains("InternalJwtAudience", error.ToString());
    }
}
