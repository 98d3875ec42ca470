using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>How a login ended; the endpoint turns it into HTTP.</summary>
public sealed record LoginOutcome(LoginResult Result, IssuedCredential? Credential = null, TimeSpan? RetryAfter = null, string? Detail = null,
    SecondFactorChallenge? Mfa = null);

public enum LoginResult { Success, Invalid, InvalidCredentials, TooManyAttempts, Banned, SessionLimitReached, MfaRequired }
