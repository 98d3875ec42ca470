using System.Formats.Cbor;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.WebUtilities;

namespace SessionGate.Tests.Mfa;

/// <summary>
/// A WebAuthn authenticator in software, for the HTTP-level tests: it makes real ES256 credentials, attestation
/// objects (format none) and signed assertions exactly as a browser would hand them over (the JSON form), so the
/// server's real verification (Fido2) judges them. The browser tests use Chromium's own virtual authenticator.
/// </summary>
public sealed class SoftAuthenticator
{
    public const string Origin = "http://localhost:8080";
    private const string RpId = "localhost";

    public sealed class Credential(byte[] id, ECDsa key, byte[] userHandle)
    {
        public byte[] Id { get; } = id;
        public ECDsa Key { get; } = key;
        public byte[] UserHandle { get; } = userHandle;
        public uint Counter { get; set; }
        public string IdText => WebEncoders.Base64UrlEncode(Id);
    }

    public List<Credential> Credentials { get; } = [];

    /// <summary>navigator.credentials.create: a new credential for the options, as its JSON form.</summary>
    public JsonObject Create(CreationOptions options, bool userVerified = true, string origin = Origin)
    {
        var challenge = options.Challenge;
        var userHandle = WebEncoders.Base64UrlDecode(options.User.Id);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var credential = new Credential(RandomNumberGenerator.GetBytes(32), key, userHandle) { Counter = 1 };
        Credentials.Add(credential);

        var p = key.ExportParameters(false);
        var cose = new CborWriter(CborConformanceMode.Ctap2Canonical);
        cose.WriteStartMap(5);
        cose.WriteInt32(1); cose.WriteInt32(2);     // kty: EC2
        cose.WriteInt32(3); cose.WriteInt32(-7);    // alg: ES256
        cose.WriteInt32(-1); cose.WriteInt32(1);    // crv: P-256
        cose.WriteInt32(-2); cose.WriteByteString(p.Q.X!);
        cose.WriteInt32(-3); cose.WriteByteString(p.Q.Y!);
        cose.WriteEndMap();
        var coseKey = cose.Encode();

        var authData = new List<byte>();
        authData.AddRange(SHA256.HashData(Encoding.UTF8.GetBytes(RpId)));
        authData.Add((byte)(0x01 | (userVerified ? 0x04 : 0) | 0x40)); // UP, UV, AT
        authData.AddRange(BigEndian(credential.Counter));
        authData.AddRange(new byte[16]); // AAGUID: none
        authData.Add((byte)(credential.Id.Length >> 8));
        authData.Add((byte)credential.Id.Length);
        authData.AddRange(credential.Id);
        authData.AddRange(coseKey);

        var attestation = new CborWriter(CborConformanceMode.Ctap2Canonical);
        attestation.WriteStartMap(3);
        attestation.WriteTextString("fmt"); attestation.WriteTextString("none");
        attestation.WriteTextString("attStmt"); attestation.WriteStartMap(0); attestation.WriteEndMap();
        attestation.WriteTextString("authData"); attestation.WriteByteString([.. authData]);
        attestation.WriteEndMap();

        var clientData = ClientData("webauthn.create", challenge, origin);
        return new JsonObject
        {
            ["id"] = credential.IdText,
            ["rawId"] = credential.IdText,
            ["type"] = "public-key",
            ["response"] = new JsonObject
            {
                ["clientDataJSON"] = WebEncoders.Base64UrlEncode(clientData),
                ["attestationObject"] = WebEncoders.Base64UrlEncode(attestation.Encode()),
                ["transports"] = new JsonArray("internal"),
            },
            ["clientExtensionResults"] = new JsonObject(),
        };
    }

    /// <summary>navigator.credentials.get: an assertion by <paramref name="credential"/> (default: the first allowed, else the first held).</summary>
    public JsonObject Get(RequestOptions options, Credential? credential = null, bool userVerified = true, string origin = Origin, uint? counter = null)
    {
        var challenge = options.Challenge;
        if (credential is null)
        {
            var allowed = (options.AllowCredentials ?? []).Select(c => c.Id).ToList();
            credential = allowed.Count == 0 ? Credentials[0] : Credentials.First(c => allowed.Contains(c.IdText));
        }
        credential.Counter = counter ?? credential.Counter + 1;
        var authData = new List<byte>();
        authData.AddRange(SHA256.HashData(Encoding.UTF8.GetBytes(RpId)));
        authData.Add((byte)(0x01 | (userVerified ? 0x04 : 0)));
        authData.AddRange(BigEndian(credential.Counter));
        var clientData = ClientData("webauthn.get", challenge, origin);
        var signed = authData.Concat(SHA256.HashData(clientData)).ToArray();
        var signature = credential.Key.SignData(signed, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        return new JsonObject
        {
            ["id"] = credential.IdText,
            ["rawId"] = credential.IdText,
            ["type"] = "public-key",
            ["response"] = new JsonObject
            {
                ["clientDataJSON"] = WebEncoders.Base64UrlEncode(clientData),
                ["authenticatorData"] = WebEncoders.Base64UrlEncode([.. authData]),
                ["signature"] = WebEncoders.Base64UrlEncode(signature),
                ["userHandle"] = WebEncoders.Base64UrlEncode(credential.UserHandle),
            },
            ["clientExtensionResults"] = new JsonObject(),
        };
    }

    private static byte[] ClientData(string type, string challenge, string origin) =>
        JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["type"] = type, ["challenge"] = challenge, ["origin"] = origin, ["crossOrigin"] = false });

    private static byte[] BigEndian(uint value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];
}
