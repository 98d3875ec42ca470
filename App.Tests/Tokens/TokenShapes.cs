using Microsoft.IdentityModel.Tokens;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Tokens;

/// <summary>GET /.well-known/openid-configuration: only what a token verifier needs to find the keys.</summary>
public sealed record Discovery(string Issuer, string JwksUri, string[] IdTokenSigningAlgValuesSupported);

/// <summary>GET /.well-known/jwks.json as sent: each key's own JSON, for a test that needs the bytes.</summary>
public sealed record JwksDocument(System.Text.Json.JsonElement[] Keys);

/// <summary>GET /.well-known/jwks.json, read by IdentityModel's own JWK parser (the one verifiers use).</summary>
public static class Jwks
{
    public static async Task<JsonWebKeySet> GetAsync(ApiClient api)
    {
        var response = await api.GetAsync("/.well-known/jwks.json");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET /.well-known/jwks.json: {(int)response.StatusCode} {text}");
        return new JsonWebKeySet(text);
    }

    public static async Task<List<string>> KidsAsync(ApiClient api) => [.. (await GetAsync(api)).Keys.Select(k => k.Kid)];

    /// <summary>True when the key carries a private or symmetric part (d, p, q, dp, dq, qi, k).</summary>
    public static bool HasSecretPart(JsonWebKey key) =>
        key.D is not null || key.P is not null || key.Q is not null || key.DP is not null || key.DQ is not null || key.QI is not null || key.K is not null;
}
