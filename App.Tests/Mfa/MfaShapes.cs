using System.Text.Json;
using System.Text.Json.Serialization;

namespace SessionGate.Tests.Mfa;

// API.md's shapes of the second factor, passkeys and step-up, as the tests read them (strictly: see Contract).

/// <summary>The login response (POST /auth/login, /auth/login/mfa, /auth/passkeys/login, /auth/refresh): the session fields in Opaque, the token fields in the JWT modes.</summary>
public sealed record LoginResponse(string TokenType, string? SessionId, DateTimeOffset? ExpiresAt, DateTimeOffset? IdleExpiresAt,
    string? AccessToken, int? ExpiresIn, string? RefreshToken, int? RefreshExpiresIn, string? DeviceToken);

/// <summary>GET /auth/mfa: the caller's own factors.</summary>
public sealed record MfaFactors(bool Totp, PasskeyListed[] Passkeys, int RecoveryCodesLeft)
{
    /// <summary>No factor at all: what an account without a second factor answers.</summary>
    [JsonIgnore] public bool None => !Totp && Passkeys.Length == 0 && RecoveryCodesLeft == 0;
}

public sealed record PasskeyListed(Guid Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt);

/// <summary>POST /auth/mfa/totp.</summary>
public sealed record TotpStart(string Secret, string OtpauthUri);

/// <summary>POST /auth/mfa/totp/confirm and POST /auth/mfa/recovery-codes.</summary>
public sealed record RecoveryCodeSet(string[] RecoveryCodes);

/// <summary>POST /auth/passkeys.</summary>
public sealed record PasskeyCreated(Guid Id, string Name, DateTimeOffset CreatedAt);

/// <summary>POST /auth/step-up: the raised assurance, and in the JWT modes a new token pair.</summary>
public sealed record StepUpAnswer(string Acr, DateTimeOffset AuthTime, string? TokenType = null, string? AccessToken = null, int? ExpiresIn = null,
    string? RefreshToken = null, int? RefreshExpiresIn = null);

/// <summary>GET and PUT /admin/tenants/{slug}/mfa-policy.</summary>
public sealed record MfaPolicy(string Require);

/// <summary>
/// A passkey ceremony's start (POST /auth/passkeys/options, /auth/login/mfa/options, /auth/passkeys/login/options,
/// /auth/step-up/options): the ceremony id and WebAuthn's options in their JSON form.
/// </summary>
public sealed record CeremonyStart<TOptions>(string CeremonyId, TOptions Options);

/// <summary>An item of GET /auth/sessions: the caller's own sessions.</summary>
public sealed record OwnSession(Guid Id, string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt, string? Ip, string? UserAgent, bool Current);
