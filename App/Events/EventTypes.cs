namespace SessionGate.Events;

/// <summary>The event types a webhook endpoint may ask for.</summary>
public static class EventTypes
{
    public const string SessionCreated = "session.created";
    public const string SessionEnded = "session.ended";
    public const string UserBanned = "user.banned";
    public const string UserUnbanned = "user.unbanned";
    public const string UserRolesChanged = "user.roles_changed";
    public const string UserLocked = "user.locked";
    public const string UserDeleted = "user.deleted";

    public static readonly string[] All = [SessionCreated, SessionEnded, UserBanned, UserUnbanned, UserRolesChanged, UserLocked, UserDeleted];

    /// <summary>What a <c>caep</c> endpoint carries: CAEP defines <c>session-revoked</c> for ended sessions.</summary>
    public static readonly string[] Caep = [SessionEnded];

    // Rows that stand for many events, expanded by the dispatcher (never delivered themselves).
    internal const string UserSessionsEnded = "sessions.ended_all";
    internal const string HoldersRolesChanged = "users.roles_changed";

    /// <summary>The reason of a session that ran out (idle or absolute limit).</summary>
    public const string Expired = "expired";
}

/// <summary>The audit events of the webhook admin API and the dispatcher.</summary>
public static class WebhookAuditTypes
{
    public const string Created = "webhook.created";
    public const string Deleted = "webhook.deleted";
    public const string SecretRotated = "webhook.secret-rotated";
    public const string Disabled = "webhook.disabled";
    public const string Enabled = "webhook.enabled";
    public const string DeliveryRetried = "webhook.delivery-retried";
}
