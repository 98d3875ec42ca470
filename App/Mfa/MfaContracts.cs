using System.Text.Json.Serialization;
using SessionGate.Auth;

namespace SessionGate.Mfa;

public sealed record PasskeyView(Guid Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

/// <summary>The caller's own second factors.</summary>
public sealed record MfaStatus(bool Totp, List<PasskeyView> Passkeys, int RecoveryCodesLeft);

/// <summary>A TOTP enrolment: the Base32 secret and the otpauth:// URI (what the QR code holds). Shown once.</summary>
public sealed record TotpEnrollment(string Secret, string OtpauthUri);

public sealed record TotpConfirmRequest([property: Description("The 6 digits the authenticator app shows now.")] string? Code);

/// <summary>Single-use recovery codes, shown once; each signs in (or steps up) once in place of a code.</summary>
public sealed record RecoveryCodesResponse(string[] RecoveryCodes);

public sealed record PasskeyRegistration(
    [property: Description("From POST /auth/passkeys/options.")] string? CeremonyId,
    [property: Description("navigator.credentials.create()'s PublicKeyCredential, JSON form (toJSON()).")] JsonElement? Credential,
    [property: Description("A name to tell it apart (at most 64 characters).")] string? Name);

public sealed record PasskeyCreated(Guid Id, string Name, DateTimeOffset CreatedAt);

/// <summary>The second step of a login: the mfa_token and one proof (a code, a recovery code, or a passkey's answer).</summary>
public sealed record MfaLoginRequest(
    [property: Description("From the mfa-required answer of POST /auth/login.")] string? MfaToken,
    [property: Description("The 6 digits of the authenticator app.")] string? Code,
    [property: Description("One of the recovery codes.")] string? RecoveryCode,
    [property: Description("From POST /auth/login/mfa/options (passkey).")] string? CeremonyId,
    [property: Description("navigator.credentials.get()'s PublicKeyCredential, JSON form (passkey).")] JsonElement? Credential,
    [property: Description(CookieOnly.Description)] bool? CookieOnly = null,
    [property: Description("The device token of an earlier login of this account (non-browser clients; browsers send the __Host-device cookie): wrong codes then count against this device only, as wrong passwords do.")] string? DeviceToken = null)
    : ISignInRequest
{
    public FactorProof Proof => new(Code, RecoveryCode, CeremonyId, Credential);
}

public sealed record MfaTokenRequest([property: Description("From the mfa-required answer of POST /auth/login.")] string? MfaToken);

public sealed record PasskeyLoginOptionsRequest([property: DefaultValue("acme")] string? Tenant);

public sealed record PasskeyLoginRequest(string? CeremonyId, JsonElement? Credential,
    [property: Description(CookieOnly.Description)] bool? CookieOnly = null) : ISignInRequest;

public sealed record StepUpRequest(
    [property: Description("The 6 digits of the authenticator app.")] string? Code,
    [property: Description("One of the recovery codes.")] string? RecoveryCode,
    [property: Description("From POST /auth/step-up/options (passkey).")] string? CeremonyId,
    [property: Description("navigator.credentials.get()'s PublicKeyCredential, JSON form (passkey).")] JsonElement? Credential)
{
    public FactorProof Proof => new(Code, RecoveryCode, CeremonyId, Credential);
}

/// <summary>
/// The raised assurance. In the JWT modes also a new token pair, because the access token carries the assurance
/// (the same fields as a login's; use them from now on).
/// </summary>
public sealed class StepUpResponse
{
    public required string Acr { get; init; }
    public required DateTimeOffset AuthTime { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? TokenType { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? AccessToken { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? ExpiresIn { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RefreshToken { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? RefreshExpiresIn { get; init; }

    public static StepUpResponse From(Sessions.SessionAssurance a, Sessions.IssuedCredential? c, DateTimeOffset now)
    {
        if (c?.RefreshToken is null) return new StepUpResponse { Acr = a.Acr, AuthTime = a.AuthTime };
        var tokens = LoginResponse.From(c, now);
        return new StepUpResponse
        {
            Acr = a.Acr, AuthTime = a.AuthTime, TokenType = tokens.TokenType.ToString(), AccessToken = tokens.AccessToken, ExpiresIn = tokens.ExpiresIn,
            RefreshToken = tokens.RefreshToken, RefreshExpiresIn = tokens.RefreshExpiresIn,
        };
    }
}
