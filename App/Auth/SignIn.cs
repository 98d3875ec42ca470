using System.Diagnostics.CodeAnalysis;
using SessionGate.Observability;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>A login request that may ask for <c>cookie_only</c> (password, second step, passkey).</summary>
public interface ISignInRequest
{
    bool? CookieOnly { get; }
}

/// <summary>
/// What a sign-in handler works with, bound as one <c>[AsParameters]</c> parameter, the same whichever way the
/// sign-in came in (a password, a second factor, a passkey): the request, the mode's cookie rule, the device token,
/// the login metric, and the answer that opens the session (session cookie where the mode has one, device cookie,
/// login response).
/// </summary>
public readonly record struct SignIn(HttpContext Http, DeviceTokens Devices, IAuthMode Mode, TimeProvider Time, SessionGateMetrics Metrics)
{
    /// <summary>
    /// No body, or <c>cookie_only</c> where the mode has no session cookie. Checked before any secret is looked at,
    /// so a client that learns the mode this way spends no attempt.
    /// </summary>
    public bool Refuses<T>([NotNullWhen(false)] T? body, [NotNullWhen(true)] out ProblemHttpResult? refusal) where T : class, ISignInRequest
    {
        refusal = body is null ? Problems.ValidationFailed("A JSON body is required.")
            : body.CookieOnly == true && !Mode.AcceptsCookie ? Problems.Result(400, Problems.NotSupportedInMode, CookieOnly.RefusedDetail)
            : null;
        return refusal is not null;
    }

    public string? UserAgent => Http.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua : null;

    /// <summary>The device token of this request: the body's, or else the <c>__Host-device</c> cookie.</summary>
    public string? PresentedDevice(string? fromBody = null) => DeviceTokens.Presented(Http, fromBody);

    public void RetryAfter(TimeSpan? wait)
    {
        if (wait is { } w) Http.Response.SetRetryAfter(w);
    }

    public Ok<LoginResponse> Opened(IssuedCredential credential, string deviceToken, bool cookieOnly)
    {
        if (Mode.AcceptsCookie) Http.AppendSessionCookie(credential.Credential, credential.SessionExpiresAt);
        Devices.AppendCookie(Http, deviceToken);
        return TypedResults.Ok(LoginResponse.From(credential, Time.GetUtcNow(), deviceToken, cookieOnly));
    }
}
