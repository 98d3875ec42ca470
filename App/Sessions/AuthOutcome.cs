namespace SessionGate.Sessions;

/// <summary>What the hot path decided. The authentication handler turns it into HTTP.</summary>
public sealed class AuthOutcome
{
    private AuthOutcome(AuthResult result, System.Security.Claims.ClaimsPrincipal? principal, string? reason) =>
        (Result, Principal, Reason) = (result, principal, reason);

    public AuthResult Result { get; }
    public System.Security.Claims.ClaimsPrincipal? Principal { get; }
    /// <summary>For <see cref="AuthResult.Revoked"/>: one of <see cref="Infrastructure.RevokeReasons"/>.</summary>
    public string? Reason { get; }

    public static AuthOutcome Success(System.Security.Claims.ClaimsPrincipal principal) => new(AuthResult.Success, principal, null);
    public static readonly AuthOutcome Unknown = new(AuthResult.Unknown, null, null);
    public static readonly AuthOutcome Unavailable = new(AuthResult.Unavailable, null, null);
    public static readonly AuthOutcome CrossSite = new(AuthResult.CrossSite, null, null);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, AuthOutcome> RevokedByReason = new();
    public static AuthOutcome Revoked(string reason) => RevokedByReason.GetOrAdd(reason, r => new AuthOutcome(AuthResult.Revoked, null, r));
}

public enum AuthResult { Success, Unknown, Revoked, Unavailable, CrossSite }
