using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>
/// What a login does after the right password and before the session opens: ask for a second factor (the user has
/// one), or open a session with the assurance the password gives (restricted to enrolment when the tenant requires a
/// factor the user has not enrolled). Implemented by the Mfa feature; the login only calls it.
/// </summary>
public interface ILoginSecondFactor
{
    Task<LoginSecondStep> CheckAsync(User user, Tenant tenant, string verifiedPasswordHash, string deviceType, CancellationToken ct);
}

/// <summary>Either a challenge to answer at POST /auth/login/mfa (no session yet), or the assurance of the session to open.</summary>
public sealed record LoginSecondStep(SecondFactorChallenge? Challenge, SessionAssurance Assurance);

/// <summary>The pending second step: its token (a secret, never logged), the methods the user may answer with, and its life.</summary>
public sealed record SecondFactorChallenge(string MfaToken, string[] Methods, TimeSpan ExpiresIn);
