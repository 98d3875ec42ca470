using SessionGate.Data;

namespace SessionGate.Events;

/// <summary>
/// Writes events into the caller's unit of work or transaction, so each commits (or rolls back) with the change it
/// reports; the request pays one row (or one statement) per change, never one per webhook endpoint, and nothing is
/// sent from here (<see cref="WebhookDispatcher"/> does that). The rule that keeps a session's end reported once:
/// whoever sets a session's <c>RevokedAt</c> reports it (a revocation, the janitor for expiry, or the expansion of a
/// kick-all), because only one of them can find it unset.
/// </summary>
public static class EventLog
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    internal static string Detail(object value) => JsonSerializer.Serialize(value, Json);

    /// <summary>A login opened <paramref name="session"/>: <c>session.created</c>, and its first expiry check. Saved with the session.</summary>
    public static void SessionCreated(AppDbContext db, Session session)
    {
        db.Set<SessionEvent>().Add(new SessionEvent
        {
            EventId = Guid.CreateVersion7(),
            Type = EventTypes.SessionCreated,
            TenantId = session.TenantId,
            UserId = session.UserId,
            SessionId = session.Id,
            OccurredAt = session.CreatedAt,
            Detail = Detail(new { device_type = session.DeviceType }),
        });
        db.Set<SessionExpiryCheck>().Add(new SessionExpiryCheck
        {
            SessionId = session.Id,
            CheckAt = session.IdleExpiresAt < session.AbsoluteExpiresAt ? session.IdleExpiresAt : session.AbsoluteExpiresAt,
        });
    }

    /// <summary>
    /// <c>session.ended</c> for sessions this transaction has just ended (their rows' <c>RevokedAt</c> set by it). A
    /// session whose limit had already passed, and that the janitor had not got to yet, is reported as expired.
    /// </summary>
    public static Task SessionsEndedAsync(AppDbContext db, IReadOnlyCollection<Guid> sessionIds, string reason, DateTimeOffset at, CancellationToken ct)
    {
        if (sessionIds.Count == 0) return Task.CompletedTask;
        var ids = sessionIds.ToArray();
        var eventIds = ids.Select(_ => Guid.CreateVersion7()).ToArray();
        return db.Database.ExecuteSqlAsync($"""
            INSERT INTO session_events ("EventId", "Type", "TenantId", "UserId", "SessionId", "Reason", "OccurredAt")
            SELECT v.e, 'session.ended', s."TenantId", s."UserId", s."Id",
                   CASE WHEN LEAST(s."IdleExpiresAt", s."AbsoluteExpiresAt") <= {at} THEN 'expired' ELSE {reason} END,
                   LEAST(s."IdleExpiresAt", s."AbsoluteExpiresAt", {at})
            FROM unnest({eventIds}, {ids}) WITH ORDINALITY AS v(e, sid, n) JOIN sessions s ON s."Id" = v.sid
            ORDER BY v.n
            """, ct);
    }

    /// <summary>
    /// Every session of the user of an epoch before <paramref name="epoch"/> ended (kick-all, ban, password change):
    /// one row, which the dispatcher expands into one <c>session.ended</c> per session, so the request does not pay
    /// per session.
    /// </summary>
    public static Task UserSessionsEndedAsync(AppDbContext db, Guid userId, long epoch, string reason, DateTimeOffset at, CancellationToken ct) =>
        db.Database.ExecuteSqlAsync($"""
            INSERT INTO session_events ("EventId", "Type", "TenantId", "UserId", "Reason", "Detail", "OccurredAt")
            SELECT {Guid.CreateVersion7()}, 'sessions.ended_all', u."TenantId", u."Id", {reason}, jsonb_build_object('epoch', {epoch}), {at}
            FROM users u WHERE u."Id" = {userId}
            """, ct);

    /// <summary>An event about a user (banned, unbanned, roles changed, deleted); written before a deletion, which it must outlive.</summary>
    public static Task UserEventAsync(AppDbContext db, string type, Guid userId, DateTimeOffset at, CancellationToken ct, object? detail = null) =>
        db.Database.ExecuteSqlAsync($"""
            INSERT INTO session_events ("EventId", "Type", "TenantId", "UserId", "Detail", "OccurredAt")
            SELECT {Guid.CreateVersion7()}, {type}, u."TenantId", u."Id", {Detail(detail ?? new { })}::jsonb, {at}
            FROM users u WHERE u."Id" = {userId}
            """, ct);

    /// <summary>
    /// The permissions of a role changed (or it was deleted): one row for all its holders, which the dispatcher
    /// expands into one <c>user.roles_changed</c> per holder.
    /// </summary>
    public static Task HoldersRolesChangedAsync(AppDbContext db, Guid tenantId, IReadOnlyCollection<Guid> holders, DateTimeOffset at, CancellationToken ct)
    {
        if (holders.Count == 0) return Task.CompletedTask;
        var ids = holders.ToArray();
        return db.Database.ExecuteSqlAsync($"""
            INSERT INTO session_events ("EventId", "Type", "TenantId", "UserId", "Detail", "OccurredAt")
            VALUES ({Guid.CreateVersion7()}, 'users.roles_changed', {tenantId}, {Guid.Empty}, jsonb_build_object('users', to_jsonb({ids})), {at})
            """, ct);
    }

    /// <summary>
    /// Failed logins locked the account (<paramref name="scope"/>: <c>account</c> account-wide, or
    /// <c>account-address</c> for one address). Added to the caller's unit of work: it commits with the audit row.
    /// </summary>
    public static void UserLocked(AppDbContext db, Guid userId, Guid tenantId, string scope, DateTimeOffset at) =>
        db.Set<SessionEvent>().Add(new SessionEvent
        {
            EventId = Guid.CreateVersion7(),
            Type = EventTypes.UserLocked,
            TenantId = tenantId,
            UserId = userId,
            OccurredAt = at,
            Detail = Detail(new { scope }),
        });
}
