namespace SessionGate.Audit;

/// <summary>The security events that are appended to the audit log.</summary>
public static class AuditTypes
{
    public const string LoginSucceeded = "login.succeeded";
    public const string LoginFailed = "login.failed";
    public const string LoginRejected = "login.rejected";
    public const string LoginLocked = "login.locked";
    public const string UserUnlocked = "user.unlocked";
    public const string Logout = "logout";
    public const string LogoutAll = "logout.all";
    public const string SessionKicked = "session.kicked";
    public const string SessionReplaced = "session.replaced";
    public const string UserLogoutAll = "user.logout-all";
    public const string UserBanned = "user.banned";
    public const string UserUnbanned = "user.unbanned";
    public const string UserCreated = "user.created";
    public const string UserUpdated = "user.updated";
    public const string UserDeleted = "user.deleted";
    public const string UserRolesChanged = "user.roles-changed";
    public const string RoleCreated = "role.created";
    public const string RolePermissionsChanged = "role.permissions-changed";
    public const string RoleDeleted = "role.deleted";
    public const string PasswordChanged = "password.changed";
    public const string PasswordChangeFailed = "password.change-failed";
    public const string TenantCreated = "tenant.created";
    public const string LoginPolicyChanged = "tenant.login-policy-changed";
    public const string KeyRotated = "key.rotated";
    public const string KeyRevoked = "key.revoked";
    public const string RefreshTokenReused = "refresh-token.reused";
    public const string ServiceClientCreated = "service-client.created";
    public const string ServiceClientDeleted = "service-client.deleted";
    public const string ServiceClientSecretRotated = "service-client.secret-rotated";
    public const string TokenExchanged = "token.exchanged";
    public const string TokenExchangeRefused = "token.exchange-refused";
    public const string SessionIdKeyRotated = "session-id-key.rotated";
    /// <summary>A kick of a session that had already ended: nothing new ends, but Redis is told again.</summary>
    public const string SessionKickRetried = "session.kick-retried";
    /// <summary>The owner ended an already ended session of theirs again (DELETE /auth/sessions/{id}): Redis is told again.</summary>
    public const string SessionEndRetried = "session.end-retried";
}
