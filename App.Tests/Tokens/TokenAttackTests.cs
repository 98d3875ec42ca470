using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Gateway;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tokens;

namespace SessionGate.Tests.Tokens;

public sealed class TokenAttackTests_Blacklist(AppFixture<Blacklist> fx) : TokenAttackTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class TokenAttackTests_SessionCache(AppFixture<SessionCache> fx) : TokenAttackTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;
public sealed class TokenAttackTests_Opaque(AppFixture<Opaque> fx) : IClassFixture<AppFixture<Opaque>>
{
    [Fact]
    public async Task A_jwt_is_no_credential_in_opaque_mode()
    {
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        var principal = new SessionIdentity(Guid.NewGuid(), Guid.NewGuid(), "acme", "x", Guid.NewGuid(), "web",
            ["admin"], [], DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1)).ToPrincipal();
        var token = await fx.Factory.Services.GetRequiredService<InternalTokens>().GetAsync(principal, "sessiongate", default);
        await Problem.AssertAsync(await fx.Api.GetAsync("/auth/me", login with { Bearer = token }), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
    }
}

/// <summary>Every forged, tampered or malformed token gets the same generic 401, never a 500 or a hint.</summary>
public abstract class TokenAttackTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    private async Task<(Login Login, JsonObject Header, JsonObject Payload, string Signature)> RealTokenAsync()
    {
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync(["user"]));
        var (h, p, s) = TokenForge.Split(login.Bearer);
        return (login, h, p, s);
    }

    private async Task AssertRejectedAsync(Login login, string forged)
    {
        var response = await fx.Api.GetAsync("/auth/me", login with { Bearer = forged });
        var body = await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.ToString());
        Assert.Null(body.Detail);
        Assert.Null(body.Reason);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("NONE")]
    [InlineData("nOnE")]
    public async Task Alg_none_is_refused_in_any_casing(string alg)
    {
        var (login, h, p, _) = await RealTokenAsync();
        h["alg"] = alg;
        await AssertRejectedAsync(login, TokenForge.Unsigned(h, p));
        await AssertRejectedAsync(login, TokenForge.Unsigned(h, p, "sig"));
    }

    [Fact]
    public async Task A_tampered_payload_is_refused()
    {
        var (login, h, p, s) = await RealTokenAsync();
        var tampered = TokenForge.Clone(p);
        tampered["sub"] = Guid.NewGuid().ToString();
        await AssertRejectedAsync(login, TokenForge.Unsigned(h, tampered, s));
        var elevated = TokenForge.Clone(p);
        elevated["roles"] = new JsonArray("admin");
        elevated["permissions"] = new JsonArray("users:write", "platform:admin");
        await AssertRejectedAsync(login, TokenForge.Unsigned(h, elevated, s));
        var later = TokenForge.Clone(p);
        later["exp"] = p["exp"]!.GetValue<long>() + 3600;
        await AssertRejectedAsync(login, TokenForge.Unsigned(h, later, s));
    }

    [Fact]
    public async Task A_stripped_or_truncated_signature_is_refused()
    {
        var (login, h, p, s) = await RealTokenAsync();
        await AssertRejectedAsync(login, TokenForge.Unsigned(h, p));
        await AssertRejectedAsync(login, TokenForge.Unsigned(h, p, s[..^6]));
        await AssertRejectedAsync(login, $"{TokenForge.Encode(h)}.{TokenForge.Encode(p)}");
    }

    [Fact]
    public async Task Hs256_signed_with_the_public_key_is_refused()
    {
        var (login, h, p, _) = await RealTokenAsync();
        var jwks = await fx.Api.GetAsync<JwksDocument>("/.well-known/jwks.json", login);
        var jwk = jwks.Keys.First(k => new Microsoft.IdentityModel.Tokens.JsonWebKey(k.GetRawText()).Kid == h["kid"]!.GetValue<string>());
        await AssertRejectedAsync(login, TokenForge.Hs256(TokenForge.Clone(h), p, TokenForge.PublicKeyBytes(jwk)));
        await AssertRejectedAsync(login, TokenForge.Hs256(TokenForge.Clone(h), p,
            Convert.FromBase64String(Base64(new Microsoft.IdentityModel.Tokens.JsonWebKey(jwk.GetRawText()).X))));
    }

    [Fact]
    public async Task An_embedded_jwk_or_a_jku_or_x5u_header_is_refused_and_never_fetched()
    {
        var (login, h, p, _) = await RealTokenAsync();
        await AssertRejectedAsync(login, TokenForge.SignWithOwnKey(TokenForge.Clone(h), p, embedJwk: true));
        foreach (var name in new[] { "jku", "x5u" })
        {
            var header = TokenForge.Clone(h);
            header[name] = "http://127.0.0.1:1/attacker-keys.json";
            await AssertRejectedAsync(login, TokenForge.SignWithOwnKey(header, p));
        }
    }

    [Theory]
    [InlineData("../../../../etc/passwd")]
    [InlineData("' OR '1'='1' --")]
    [InlineData("kid\u0000null")]
    [InlineData("")]
    public async Task Hostile_kids_are_refused(string kid)
    {
        var (login, h, p, _) = await RealTokenAsync();
        h["kid"] = kid;
        await AssertRejectedAsync(login, TokenForge.SignWithOwnKey(h, p));
    }

    [Fact]
    public async Task Huge_and_malformed_tokens_are_refused()
    {
        var (login, h, p, s) = await RealTokenAsync();
        var huge = TokenForge.Clone(p);
        huge["pad"] = new string('A', 300_000);
        await AssertRejectedAsync(login, TokenForge.Unsigned(h, huge, s));
        await AssertRejectedAsync(login, "a.b");
        await AssertRejectedAsync(login, new string('.', 5000));
        await AssertRejectedAsync(login, "!!!.@@@.###");
        await AssertRejectedAsync(login, "eyJ.eyJ.eyJ");
        await AssertRejectedAsync(login, login.Bearer + "." + login.Bearer);
    }

    [Fact]
    public async Task A_token_of_another_type_or_audience_is_refused()
    {
        var (login, _, p, _) = await RealTokenAsync();
        var principal = new SessionIdentity(Guid.Parse(p["sub"]!.GetValue<string>()), Guid.NewGuid(), "acme", "x",
            Guid.Parse(p["sid"]!.GetValue<string>()), "web", ["admin"], [], DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(1)).ToPrincipal();
        var tokens = fx.Factory.Services.GetRequiredService<InternalTokens>();
        // Signed by us, with our audience, but typed internal+jwt: not an access token.
        await AssertRejectedAsync(login, await tokens.GetAsync(principal, "sessiongate", default));
    }

    private static string Base64(string b64url)
    {
        var s = b64url.Replace('-', '+').Replace('_', '/');
        return s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
    }
}
