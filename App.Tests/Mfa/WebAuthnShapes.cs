using System.Text.Json;
using System.Text.Json.Serialization;

namespace SessionGate.Tests.Mfa;

// WebAuthn Level 3's JSON forms (camelCase, as the standard spells them), read as strictly as our own shapes.

/// <summary>PublicKeyCredentialCreationOptionsJSON.</summary>
public sealed record CreationOptions(
    RelyingParty Rp,
    WebAuthnUser User,
    string Challenge,
    [property: JsonPropertyName("pubKeyCredParams")] CredentialParameter[] PubKeyCredParams,
    long? Timeout,
    string? Attestation,
    [property: JsonPropertyName("attestationFormats")] string[]? AttestationFormats,
    [property: JsonPropertyName("authenticatorSelection")] AuthenticatorSelection? AuthenticatorSelection,
    string[]? Hints,
    [property: JsonPropertyName("excludeCredentials")] CredentialDescriptor[]? ExcludeCredentials,
    JsonElement? Extensions);

/// <summary>PublicKeyCredentialRequestOptionsJSON.</summary>
public sealed record RequestOptions(
    string Challenge,
    long? Timeout,
    [property: JsonPropertyName("rpId")] string? RpId,
    [property: JsonPropertyName("allowCredentials")] CredentialDescriptor[]? AllowCredentials,
    [property: JsonPropertyName("userVerification")] string? UserVerification,
    string[]? Hints,
    JsonElement? Extensions);

public sealed record RelyingParty(string Id, string Name);

public sealed record WebAuthnUser(string Id, string Name, [property: JsonPropertyName("displayName")] string DisplayName);

public sealed record CredentialParameter(string Type, int Alg);

public sealed record CredentialDescriptor(string Type, string Id, string[]? Transports);

public sealed record AuthenticatorSelection(
    [property: JsonPropertyName("authenticatorAttachment")] string? AuthenticatorAttachment,
    [property: JsonPropertyName("residentKey")] string? ResidentKey,
    [property: JsonPropertyName("requireResidentKey")] bool? RequireResidentKey,
    [property: JsonPropertyName("userVerification")] string? UserVerification);
