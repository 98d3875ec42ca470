namespace SessionGate.Infrastructure;

/// <summary>Why a session ended; the values of <c>reason</c> in a session-revoked problem.</summary>
public static class RevokeReasons
{
    public const string LoggedOut = "logged-out";
    public const string Kicked = "kicked";
    public const string Replaced = "replaced";
    public const string Banned = "banned";
    public const string PasswordChanged = "password-changed";
    public const string Expired = "expired";
    public const string RolesChanged = "roles-changed";
    /// <summary>A spent refresh token was presented again (theft suspected): its whole family, its session, ended.</summary>
    public const string RefreshReused = "refresh-reused";
}
