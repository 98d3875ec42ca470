namespace SessionGate.Data;

/// <summary>
/// The widths of the columns whose values are copied from table to table: why sessions ended (kept on the user, the
/// session, its revoked tokens and its event), a token's jti (the session's current one becomes a revoked token's
/// key), a client's address, an event's type (each delivery repeats it). One number for each, so that a copy always
/// fits where it goes.
/// </summary>
internal static class ColumnWidths
{
    /// <summary>A <see cref="RevokeReasons"/> value.</summary>
    public const int Reason = 32;

    /// <summary>An access token's id.</summary>
    public const int Jti = 64;

    /// <summary>A client's address, as sessions and the audit trail keep it.</summary>
    public const int Ip = 64;

    /// <summary>A session event's type.</summary>
    public const int EventType = 32;
}
