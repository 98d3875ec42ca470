using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;

namespace SessionGate.Tests.Tokens;

/// <summary>Builds hostile JWTs from a real one, the way an attacker would.</summary>
public static class TokenForge
{
    public static (JsonObject Header, JsonObject Payload, string Signature) Split(string jwt)
    {
        var parts = jwt.Split('.');
        return (JsonNode.Parse(WebEncoders.Base64UrlDecode(parts[0]))!.AsObject(),
                JsonNode.Parse(WebEncoders.Base64UrlDecode(parts[1]))!.AsObject(), parts[2]);
    }

    public static string Encode(JsonNode node) => WebEncoders.Base64UrlEncode(Encoding.UTF8.GetBytes(node.ToJsonString()));

    public static string Unsigned(JsonObject header, JsonObject payload, string signature = "") =>
        $"{Encode(header)}.{Encode(payload)}.{signature}";

    public static string Hs256(JsonObject header, JsonObject payload, byte[] key)
    {
        header["alg"] = "HS256";
        var input = $"{Encode(header)}.{Encode(payload)}";
        return input + "." + WebEncoders.Base64UrlEncode(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(input)));
    }

    /// <summary>Signs with a key of the attacker's own, optionally announcing it in the header.</summary>
    public static string SignWithOwnKey(JsonObject header, JsonObject payload, bool embedJwk = false)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        header["alg"] = "ES256";
        if (embedJwk)
        {
            var p = key.ExportParameters(false);
            header["jwk"] = new JsonObject
            {
                ["kty"] = "EC", ["crv"] = "P-256",
                ["x"] = WebEncoders.Base64UrlEncode(p.Q.X!), ["y"] = WebEncoders.Base64UrlEncode(p.Q.Y!),
            };
        }
        var input = $"{Encode(header)}.{Encode(payload)}";
        var sig = key.SignData(Encoding.UTF8.GetBytes(input), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return input + "." + WebEncoders.Base64UrlEncode(sig);
    }

    public static JsonObject Clone(JsonObject o) => JsonNode.Parse(o.ToJsonString())!.AsObject();

    public static byte[] PublicKeyBytes(JsonElement jwk) =>
        Encoding.UTF8.GetBytes(jwk.GetRawText());
}
