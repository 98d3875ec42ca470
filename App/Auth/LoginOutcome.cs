using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>How a login ended; the endpoint turns it into HTTP.</summary>
public sealed record LoginOutcome(LoginResult Result, IssuedCredential? Credential = null, TimeSpan? RetryAfter = null, string? Detail = null);

public enum LoginResult { Success, Invalid, InvalidCredentials, TooManyAttempts, Banned, SessionLimitReached }
