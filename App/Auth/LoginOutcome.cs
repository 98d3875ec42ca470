using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>How a login ended; the endpoint turns it into HTTP. A success carries the device's (new or renewed) device token.</summary>
public sealed record LoginOutcome(LoginResult Result, IssuedCredential? Credential = null, TimeSpan? RetryAfter = null, string? Detail = null,
    SecondFactorChallenge? Mfa = null, string? DeviceToken = null);

public enum LoginResult { Success, Invalid, InvalidCredentials, TooManyAttempts, Banned, SessionLimitReached, MfaRequired }
