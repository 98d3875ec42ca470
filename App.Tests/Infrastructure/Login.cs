using System.Text.Json;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// A signed-in client: the credential it sends as bearer (the session id in Opaque, the access token in the JWT modes),
/// its refresh token (JWT modes), the session cookie when one was set, and the login body as sent.
/// </summary>
public sealed record Login(string Bearer, string? Refresh, string? Cookie, JsonElement Body)
{
    /// <summary>The body as API.md's login response (read strictly).</summary>
    public TokenResponse Tokens => Body.As<TokenResponse>();
}

/// <summary>
/// POST /auth/login and /auth/refresh, as API.md defines them. Opaque: <c>token_type</c> <c>Session</c>,
/// <c>session_id</c>, <c>expires_at</c>, <c>idle_expires_at</c>. JWT modes: <c>Bearer</c>, <c>access_token</c>,
/// <c>expires_in</c>, <c>refresh_token</c>, <c>refresh_expires_in</c>. A login may add this device's <c>device_token</c>;
/// a cookie-only login (Opaque) leaves the session id and the device token to the cookies.
/// </summary>
public sealed record TokenResponse(
    string TokenType,
    string? SessionId = null, DateTimeOffset? ExpiresAt = null, DateTimeOffset? IdleExpiresAt = null,
    string? AccessToken = null, int? ExpiresIn = null, string? RefreshToken = null, int? RefreshExpiresIn = null,
    string? DeviceToken = null);
