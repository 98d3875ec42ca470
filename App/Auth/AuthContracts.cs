using System.Text.Json.Serialization;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>Login with tenant, username and password; device_type is web (default), mobile, desktop or api.</summary>
public sealed record LoginRequest(
    [property: Description("The tenant's slug, such as acme.")] string? Tenant,
    string? Username,
    string? Password,
    [property: DefaultValue("web"), OneOf(typeof(DeviceTypes), nameof(DeviceTypes.All)),
        Description("The kind of client (default web). Login policy PerDeviceType keeps one session per kind.")] string? DeviceType,
    [property: Description("The device token this device got at its last login to this account (browsers send the __Host-device cookie instead). Its logins are then counted on their own: failures elsewhere never refuse it.")]
    string? DeviceToken = null,
    [property: Description(CookieOnly.Description)]
    bool? CookieOnly = null) : ISignInRequest;

public sealed record RefreshRequest(
    [property: Description("The refresh_token from the login or the last refresh. Each one is used once.")] string? RefreshToken);

/// <summary>Logout without an access token (JWT modes): the refresh token alone names the session to end.</summary>
public sealed record LogoutRequest(
    [property: Description("JWT modes, with no valid access token (an expired one, say): the session of this refresh token ends. With a valid access token the body is ignored and the caller's session ends.")]
    string? RefreshToken);

/// <summary>
/// <c>"cookie_only": true</c> on a login (password, second step, passkey): for browsers. The session lives in the
/// HttpOnly cookie only; the body carries neither the session id nor the device token, so no script on the page can
/// read what HttpOnly hides. Opaque mode only: the JWT modes have no session cookie (400 <c>not-supported-in-mode</c>).
/// </summary>
public static class CookieOnly
{
    public const string Description =
        "Browsers (Opaque mode): true sets the HttpOnly session cookie and leaves session_id and device_token out of the body, " +
        "so no script on the page can read them. Bearer clients leave it out and keep the body. The JWT modes have no session cookie: 400 not-supported-in-mode.";

    public const string RefusedDetail = "cookie_only needs Opaque mode: the JWT modes have no session cookie. Leave it out and keep the tokens in memory.";
}

public sealed record ChangePasswordRequest(
    string? CurrentPassword,
    [property: Description(PasswordRules.Description)] string? NewPassword,
    [property: Description("This device's device token (or the __Host-device cookie): wrong current passwords are then counted for this device only.")]
    string? DeviceToken = null);

/// <summary>
/// The caller's session: its public id, device and times, and its assurance: <c>acr</c> (<c>aal1</c>, or <c>aal2</c> after
/// a second factor or a user-verified passkey), <c>amr</c> (RFC 8176: <c>pwd</c>, <c>otp</c> for TOTP or a recovery code,
/// <c>hwk</c> for a passkey, <c>mfa</c> for two factors) and <c>auth_time</c> (the login, or the latest step-up).
/// </summary>
public sealed record MeSession(Guid Id, [property: OneOf(typeof(DeviceTypes), nameof(DeviceTypes.All))] string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt,
    string Acr, string[] Amr, DateTimeOffset AuthTime);

public sealed record MeResponse(Guid UserId, string Tenant, string Username, string[] Roles, string[] Permissions, MeSession Session);

public sealed record OwnSession(Guid Id, [property: OneOf(typeof(DeviceTypes), nameof(DeviceTypes.All))] string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt, string? Ip, string? UserAgent, bool Current);

/// <summary>What a new password must be, as the documents say it (PasswordPolicy checks it).</summary>
public static class PasswordRules
{
    public const string Description = "At least 12 characters, at least 4 different ones, not containing the username.";
}

/// <summary>How a login's credential is presented: <c>Session</c> (Opaque) or <c>Bearer</c> (JWT modes).</summary>
public enum LoginTokenType { Session, Bearer }

public static class Limits
{
    public const int MaxName = 128;
    public const int MaxPassword = 1024;
    public const int MinPassword = 12;
}

/// <summary>The login and refresh response. Opaque fills the session fields; the JWT modes the token fields.</summary>
public sealed class LoginResponse
{
    /// <summary><c>Session</c> (Opaque) or <c>Bearer</c> (JWT modes).</summary>
    [JsonConverter(typeof(JsonStringEnumConverter<LoginTokenType>))]
    public required LoginTokenType TokenType { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SessionId { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ExpiresAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? IdleExpiresAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? AccessToken { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? ExpiresIn { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RefreshToken { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? RefreshExpiresIn { get; init; }

    /// <summary>Login only: this device's token for this account (also set as the <c>__Host-device</c> cookie); send it back as <c>device_token</c> at the next login.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? DeviceToken { get; init; }

    // cookieOnly (Opaque only): the cookies carry the session and the device token, so the body names neither.
    public static LoginResponse From(IssuedCredential c, DateTimeOffset now, string? deviceToken = null, bool cookieOnly = false) => c.RefreshToken is null
        ? new LoginResponse
        {
            TokenType = LoginTokenType.Session,
            SessionId = cookieOnly ? null : c.Credential,
            ExpiresAt = c.SessionExpiresAt,
            IdleExpiresAt = c.IdleExpiresAt,
            DeviceToken = cookieOnly ? null : deviceToken,
        }
        : new LoginResponse
        {
            TokenType = LoginTokenType.Bearer,
            AccessToken = c.Credential,
            ExpiresIn = Seconds(c.CredentialExpiresAt - now),
            RefreshToken = c.RefreshToken,
            RefreshExpiresIn = Seconds(c.RefreshExpiresAt!.Value - now),
            DeviceToken = deviceToken,
        };

    private static int Seconds(TimeSpan t) => (int)Math.Round(t.TotalSeconds);
}
