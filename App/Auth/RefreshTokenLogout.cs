using Microsoft.AspNetCore.Authentication;
using SessionGate.Observability;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>
/// POST /auth/logout without a valid credential: in the JWT modes the refresh token in the body names the session, so
/// a client whose access token expired need not refresh just to log out.
/// </summary>
public static class RefreshTokenLogout
{
    // No valid credential: the refresh token in the body, if any, names the session (JWT modes).
    public static async Task<Results<NoContent, ProblemHttpResult, ChallengeHttpResult>> EndAsync(
        HttpContext http, RefreshService refresh, IAuthMode mode, CancellationToken ct)
    {
        var refused = (await http.AuthenticateAsync()).Failure is not null;
        var body = await ReadLogoutAsync(http, ct);
        if (body?.RefreshToken is not { Length: > 0 } || !mode.UsesRefreshTokens)
        {
            // Nothing else to go by: a refused credential keeps its own answer (revoked, cross-site, 503), none at all is 401.
            if (refused || body is { RefreshToken: null or "" }) return TypedResults.Challenge();
            return body is null
                ? Problems.ValidationFailed("The body must be JSON: {\"refresh_token\"}.")
                : Problems.Result(400, Problems.NotSupportedInMode, "Opaque sessions have no refresh token: log out with the session's cookie or bearer.");
        }
        using var activity = SessionGateTracing.Source.StartActivity("logout.refresh-token");
        var ended = await refresh.EndSessionAsync(body.RefreshToken, ClientAddress.Of(http), ct);
        activity?.SetTag("sessiongate.result", ended ? "ended" : "invalid");
        return ended ? TypedResults.NoContent() : Problems.Result(401, Problems.InvalidRefreshToken);
    }

    // The body is optional (a logout with a credential has none), so it is read here rather than bound: null when it is not JSON.
    private static async Task<LogoutRequest?> ReadLogoutAsync(HttpContext http, CancellationToken ct)
    {
        if (http.Request.ContentLength == 0 || (http.Request.ContentLength is null && !http.Request.HasJsonContentType())) return new LogoutRequest(null);
        if (!http.Request.HasJsonContentType()) return null;
        try
        {
            return await http.Request.ReadFromJsonAsync<LogoutRequest>(ct) ?? new LogoutRequest(null);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    // Documents the optional JSON body. */* too, or routing would answer 415 to a logout with any other body (a sign-out
    // form's, a beacon's), which logs out with the credential and ignores the body, as it always did.
    /// <summary>The endpoint metadata that documents the optional body.</summary>
    public static readonly Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata Body = new OptionalBody(typeof(LogoutRequest));

    private sealed class OptionalBody(Type type) : Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata
    {
        public IReadOnlyList<string> ContentTypes => ["application/json", "*/*"];
        public Type? RequestType => type;
        public bool IsOptional => true;
    }
}
