using SessionGate.Data;

namespace SessionGate.Events;

/// <summary>
/// Turns committed events into deliveries, one instance at a time (a transaction-scoped advisory lock), in the order
/// the events were written: each event goes to every endpoint of its tenant that asked for its type and existed when
/// it happened. A row that stands for many events is expanded first, only when some endpoint wants them:
/// <list type="bullet">
/// <item>a kick-all (ban, password change): its sessions are claimed exactly as the revocation relay writes them
/// (<c>RevokedAt</c> = the kick-all's moment, where no one else has ended them since), so each is reported once, by
/// whoever ended its row, whichever of the relay and this runs first;</item>
/// <item>a role's permissions changed: one event per holder.</item>
/// </list>
/// Children keep their parent's place (<see cref="WebhookDelivery.Seq"/>), so a user's events stay in order.
/// </summary>
internal static class EventFanout
{
    private const long LockId = 0x5345_5347_4556_4E54; // "SESGEVNT"
    private const int Batch = 500;

    private sealed record EndpointRow(Guid Id, Guid TenantId, List<string> Events, string Format, DateTimeOffset CreatedAt);

    private sealed record EndedSession(Guid Id, DateTimeOffset IdleExpiresAt, DateTimeOffset AbsoluteExpiresAt);

    /// <summary>Dispatches one batch; returns how many event rows it took (0: nothing to do, or another instance is at it).</summary>
    public static async Task<int> RunOnceAsync(AppDbContext db, DateTimeOffset now, CancellationToken ct)
    {
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var locked = await db.Database.SqlQuery<bool>($"SELECT pg_try_advisory_xact_lock({LockId}) AS \"Value\"").ToListAsync(ct);
        if (!locked[0]) return 0;
        var batch = await db.Set<SessionEvent>().AsNoTracking().Where(e => e.DispatchedAt == null).OrderBy(e => e.Id).Take(Batch).ToListAsync(ct);
        if (batch.Count == 0) return 0;

        var tenants = batch.Select(e => e.TenantId).Distinct().ToList();
        var endpoints = await db.Set<WebhookEndpoint>().AsNoTracking().Where(w => tenants.Contains(w.TenantId))
            .Select(w => new EndpointRow(w.Id, w.TenantId, w.Events, w.Format, w.CreatedAt)).ToListAsync(ct);
        bool Wanted(Guid tenant, string type, DateTimeOffset at) =>
            endpoints.Any(w => w.TenantId == tenant && w.Events.Contains(type) && w.CreatedAt <= at
                               && (w.Format != WebhookSender.CaepFormat || EventTypes.Caep.Contains(type)));

        var ids = batch.Select(e => e.Id).ToList();
        foreach (var parent in batch)
        {
            if (parent.Type == EventTypes.UserSessionsEnded && Wanted(parent.TenantId, EventTypes.SessionEnded, parent.OccurredAt))
                ids.AddRange(await ExpandSessionsAsync(db, parent, now, ct));
            else if (parent.Type == EventTypes.HoldersRolesChanged && Wanted(parent.TenantId, EventTypes.UserRolesChanged, parent.OccurredAt))
                ids.AddRange(await ExpandHoldersAsync(db, parent, now, ct));
        }

        var all = ids.ToArray();
        if (endpoints.Count > 0)
        {
            await db.Database.ExecuteSqlAsync($"""
                INSERT INTO webhook_deliveries ("EndpointId", "EventRowId", "EventId", "Type", "UserId", "Seq", "Status", "Attempts", "NextAttemptAt", "CreatedAt")
                SELECT w."Id", e."Id", e."EventId", e."Type", e."UserId", COALESCE(e."ParentId", e."Id"), 'pending', 0, {now}, {now}
                FROM session_events e
                JOIN webhook_endpoints w ON w."TenantId" = e."TenantId" AND e."Type" = ANY(w."Events") AND w."CreatedAt" <= e."OccurredAt"
                                        AND (w."Format" <> 'caep' OR e."Type" = 'session.ended')
                WHERE e."Id" = ANY({all}) AND e."Type" NOT IN ('sessions.ended_all', 'users.roles_changed')
                ORDER BY COALESCE(e."ParentId", e."Id"), e."Id", w."Id"
                """, ct);
        }
        var taken = batch.Select(e => e.Id).ToArray();
        await db.Database.ExecuteSqlAsync($"""UPDATE session_events SET "DispatchedAt" = {now} WHERE "Id" = ANY({taken})""", ct);
        await tx.CommitAsync(ct);
        return batch.Count;
    }

    private static async Task<List<long>> ExpandSessionsAsync(AppDbContext db, SessionEvent parent, DateTimeOffset now, CancellationToken ct)
    {
        if (ReadDetail(parent) is not { ValueKind: JsonValueKind.Object } detail || !detail.TryGetProperty("epoch", out var e) || !e.TryGetInt64(out var epoch))
            return [];
        var (user, at, reason) = (parent.UserId, parent.OccurredAt, parent.Reason ?? "kicked");
        // Locked and read at their latest: rows the relay ended for this kick-all count, rows someone else ended since
        // (a logout, the janitor) are theirs to report.
        var ended = await db.Database.SqlQuery<EndedSession>($"""
            SELECT "Id", "IdleExpiresAt", "AbsoluteExpiresAt" FROM sessions
            WHERE "UserId" = {user} AND "UserEpoch" < {epoch} AND ("RevokedAt" IS NULL OR ("RevokedAt" = {at} AND "RevokeReason" = {reason}))
            ORDER BY "Id" FOR UPDATE
            """).ToListAsync(ct);
        if (ended.Count == 0) return [];
        var sessions = ended.Select(s => s.Id).ToArray();
        return await db.Database.SqlQuery<long>($"""
            WITH claimed AS (
                UPDATE sessions SET "RevokedAt" = {at}, "RevokeReason" = {reason} WHERE "Id" = ANY({sessions}) AND "RevokedAt" IS NULL RETURNING 1)
            INSERT INTO session_events ("EventId", "Type", "TenantId", "UserId", "SessionId", "Reason", "OccurredAt", "ParentId", "DispatchedAt")
            SELECT md5({parent.EventId.ToString()} || s."Id"::text)::uuid, 'session.ended', {parent.TenantId}, {user}, s."Id",
                   CASE WHEN LEAST(s."IdleExpiresAt", s."AbsoluteExpiresAt") <= {at} THEN 'expired' ELSE {reason} END,
                   LEAST(s."IdleExpiresAt", s."AbsoluteExpiresAt", {at}), {parent.Id}, {now}
            FROM sessions s WHERE s."Id" = ANY({sessions})
            ORDER BY s."Id"
            RETURNING "Id" AS "Value"
            """).ToListAsync(ct);
    }

    private static async Task<List<long>> ExpandHoldersAsync(AppDbContext db, SessionEvent parent, DateTimeOffset now, CancellationToken ct)
    {
        if (ReadDetail(parent) is not { ValueKind: JsonValueKind.Object } detail || !detail.TryGetProperty("users", out var list) || list.ValueKind != JsonValueKind.Array)
            return [];
        var users = list.EnumerateArray().Select(u => u.TryGetGuid(out var id) ? id : Guid.Empty).Where(id => id != Guid.Empty).Distinct().ToArray();
        if (users.Length == 0) return [];
        return await db.Database.SqlQuery<long>($"""
            INSERT INTO session_events ("EventId", "Type", "TenantId", "UserId", "Detail", "OccurredAt", "ParentId", "DispatchedAt")
            SELECT md5({parent.EventId.ToString()} || v.u::text)::uuid, 'user.roles_changed', {parent.TenantId}, v.u, jsonb_build_object(), {parent.OccurredAt}, {parent.Id}, {now}
            FROM unnest({users}) WITH ORDINALITY AS v(u, n) ORDER BY v.n
            RETURNING "Id" AS "Value"
            """).ToListAsync(ct);
    }

    // A row whose detail cannot be read (never written so by this version) expands to nothing rather than stopping
    // every later event behind it.
    private static JsonElement ReadDetail(SessionEvent e)
    {
        try
        {
            using var doc = JsonDocument.Parse(e.Detail ?? "{}");
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }
}
