using SessionGate.Data;

namespace SessionGate.Events;

/// <summary>
/// Finds the sessions whose idle or absolute limit has passed, marks them <c>expired</c> and reports each once, by
/// index: the janitor reads the <see cref="SessionExpiryCheck"/> rows that are due (never a scan of the live
/// sessions), in batches that each take their rows out of the range, so the next batch starts where this one ended.
/// </summary>
public static class SessionExpiry
{
    /// <summary>How long a session that a kick-all ended (its row not yet written) waits before it is looked at again.</summary>
    private static readonly TimeSpan Recheck = TimeSpan.FromMinutes(1);

    private sealed record Batch(int Due, int Reported);

    /// <summary>
    /// One batch: expired sessions are ended with reason <c>expired</c> and reported (<c>session.ended</c> at the moment
    /// they ran out); one that slid meanwhile gets its new moment; one that ended otherwise loses its check. Returns how
    /// many checks were due (the janitor repeats while a batch is full). Instances may run it at once: due rows are
    /// claimed with SKIP LOCKED, and a session is ended only if its row is still open.
    /// </summary>
    public static async Task<int> MarkExpiredAsync(AppDbContext db, DateTimeOffset now, int batch, CancellationToken ct)
    {
        var later = now + Recheck;
        var result = await db.Database.SqlQuery<Batch>($"""
            WITH due AS (
                SELECT c."SessionId" FROM session_expiry_checks c WHERE c."CheckAt" <= {now}
                ORDER BY c."CheckAt" LIMIT {batch} FOR UPDATE SKIP LOCKED),
            state AS (
                SELECT d."SessionId", (s."Id" IS NOT NULL AND s."RevokedAt" IS NULL) AS open,
                       LEAST(s."IdleExpiresAt", s."AbsoluteExpiresAt") AS expires_at,
                       COALESCE(s."UserEpoch" = u."SessionEpoch", false) AS current
                FROM due d LEFT JOIN sessions s ON s."Id" = d."SessionId" LEFT JOIN users u ON u."Id" = s."UserId"),
            ended AS (
                UPDATE sessions s SET "RevokedAt" = {now}, "RevokeReason" = 'expired'
                FROM state st
                WHERE s."Id" = st."SessionId" AND st.open AND st.current AND st.expires_at <= {now} AND s."RevokedAt" IS NULL
                RETURNING s."Id", s."TenantId", s."UserId", st.expires_at),
            reported AS (
                INSERT INTO session_events ("EventId", "Type", "TenantId", "UserId", "SessionId", "Reason", "OccurredAt")
                SELECT gen_random_uuid(), 'session.ended', e."TenantId", e."UserId", e."Id", 'expired', e.expires_at
                FROM ended e ORDER BY e.expires_at, e."Id"
                RETURNING 1),
            moved AS (
                -- Slid since (a new moment), or ended by a kick-all whose rows are not written yet (look again later).
                UPDATE session_expiry_checks c SET "CheckAt" = CASE WHEN st.current THEN st.expires_at ELSE {later} END
                FROM state st
                WHERE c."SessionId" = st."SessionId" AND st.open AND NOT (st.current AND st.expires_at <= {now})
                RETURNING 1),
            gone AS (
                DELETE FROM session_expiry_checks c USING state st
                WHERE c."SessionId" = st."SessionId" AND (NOT st.open OR (st.current AND st.expires_at <= {now}))
                RETURNING 1)
            SELECT (SELECT count(*) FROM due)::int AS "Due", (SELECT count(*) FROM reported)::int AS "Reported"
            """).ToListAsync(ct);
        return result[0].Due;
    }
}
