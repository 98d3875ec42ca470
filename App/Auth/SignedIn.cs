using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>
/// The answer to a sign-in that opened a session, the same whichever way it came in (a password, a second factor, a
/// passkey): the session cookie where the mode has one, the device cookie, and the login response.
/// </summary>
public static class SignedIn
{
    public static Ok<LoginResponse> Answer(HttpContext http, IssuedCredential credential, string deviceToken, bool cookieOnly,
        IAuthMode mode, DeviceTokens devices, DateTimeOffset now)
    {
        if (mode.AcceptsCookie) http.AppendSessionCookie(credential.Credential, credential.SessionExpiresAt);
        devices.AppendCookie(http, deviceToken);
        return TypedResults.Ok(LoginResponse.From(credential, now, deviceToken, cookieOnly));
    }
}
