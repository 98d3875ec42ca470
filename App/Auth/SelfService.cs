using SessionGate.Audit;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>
/// What a handler of the caller's own sessions works with, bound as one <c>[AsParameters]</c> parameter: the caller,
/// the request, session changes and the audit log (its context captured by the group).
/// </summary>
public readonly record struct SelfService(ClaimsPrincipal User, HttpContext Http, SessionService Sessions, AuditLog Audit)
{
    public Guid UserId => User.UserId();

    /// <summary>This browser forgets the session: the cookie goes, and <c>Clear-Site-Data</c> says so for the rest.</summary>
    public NoContent SignedOut()
    {
        Http.ClearSessionCookie();
        Http.Response.Headers["Clear-Site-Data"] = "\"cookies\"";
        return TypedResults.NoContent();
    }
}
