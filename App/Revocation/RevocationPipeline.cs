using Microsoft.EntityFrameworkCore;
using Npgsql;
using SessionGate.Data;
using SessionGate.Sessions;
using StackExchange.Redis;

namespace SessionGate.Revocation;

/// <summary>
/// The one way a change reaches every instance:
/// <list type="number">
/// <item>PostgreSQL commits the change and an outbox row in one transaction (<see cref="Enqueue"/>);</item>
/// <item>the request applies it to Redis at once and publishes the invalidation (<see cref="ApplyCommittedAsync"/>);</item>
/// <item>the <see cref="OutboxRelay"/> re-applies rows that were not confirmed, and replays recent ones when Redis may have lost writes;</item>
/// <item>each instance's L1 drops what the invalidation names (<see cref="InvalidationBus"/>).</item>
/// </list>
/// A change that PostgreSQL committed has happened, whatever Redis says: applying never throws.
/// </summary>
public sealed partial class RevocationPipeline(
    IAuthMode mode,
    InvalidationBus bus,
    IDbContextFactory<AppDbContext> dbs,
    TimeProvider time,
    ILogger<RevocationPipeline> logger)
{
    public const char UserKind = 'u';
    public const char KeysKind = 'k';
    public const char TombstoneKind = 't';

    /// <summary>A revoked session as every instance's L1 remembers it: <c>&lt;sid&gt;|&lt;secret hash&gt;|&lt;reason&gt;</c>.</summary>
    public static string TombstoneLine(RevokedSession s, string reason) =>
        $"{TombstoneKind}:{s.Id:N}|{(s.SecretHash is null ? "" : Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlEncode(s.SecretHash))}|{reason}";

    public static bool TryParseTombstone(string arg, out Guid sessionId, out byte[]? secretHash, out string reason)
    {
        var parts = arg.Split('|');
        secretHash = null;
        reason = parts.Length == 3 ? parts[2] : "";
        if (parts.Length != 3 || !Guid.TryParse(parts[0], out sessionId) || reason.Length == 0)
        {
            sessionId = Guid.Empty;
            return false;
        }
        if (parts[1].Length > 0) secretHash = Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlDecode(parts[1]);
        return true;
    }

    /// <summary>Adds the outbox row to <paramref name="db"/>'s unit of work; it commits with the change.</summary>
    public OutboxMessage Enqueue(AppDbContext db, RevocationEvent change)
    {
        var row = new OutboxMessage { Kind = change.Kind, Payload = change.Write(), CreatedAt = time.GetUtcNow(), Change = change };
        db.Outbox.Add(row);
        return row;
    }

    /// <summary>Applies rows this request committed and confirms them; what fails is left to the relay.</summary>
    public async Task ApplyCommittedAsync(IReadOnlyList<OutboxMessage> rows)
    {
        if (rows.Count == 0) return;
        var applied = new List<long>(rows.Count);
        foreach (var row in rows)
        {
            // A kick-all's tombstones are written here, its sessions' rows by the relay: the row stays unconfirmed
            // until then, so the request pays for one user's row, not for a thousand sessions'.
            var rowsLater = row.Kind == UserSessionsEnded.Name;
            if (await TryApplyAsync(row, CancellationToken.None, writeRows: !rowsLater) && !rowsLater) applied.Add(row.Id);
        }
        if (applied.Count == 0) return;
        try
        {
            await using var db = await dbs.CreateDbContextAsync();
            var now = time.GetUtcNow();
            await db.Outbox.Where(o => applied.Contains(o.Id)).ExecuteUpdateAsync(u => u.SetProperty(o => o.AppliedAt, now));
        }
        catch (Exception e) when (IsTransient(e))
        {
            // Unconfirmed rows are applied once more by the relay; applying twice is harmless.
            LogConfirmFailed(logger, e.GetType().Name);
        }
    }

    /// <summary>
    /// Makes Redis agree with one committed change and tells every instance; false if Redis (or PostgreSQL) failed.
    /// <paramref name="writeRows"/>: also write the sessions' rows that a <see cref="UserSessionsEnded"/> ended (the
    /// request leaves them to the relay, and passes the sessions it read).
    /// </summary>
    public async Task<bool> TryApplyAsync(OutboxMessage row, CancellationToken ct, bool writeRows = true)
    {
        var change = row.Change as RevocationEvent ?? RevocationEvent.Read(row.Kind, row.Payload);
        if (change is null) return true;
        // First, and whatever Redis does with the writes below: every instance remembers the revocation in its L1, so
        // a write Redis refuses (or loses) does not let a session back in while the relay retries.
        var remember = change switch
        {
            SessionsRevoked ended => ended.Sessions.Select(s => TombstoneLine(s, ended.Reason)).ToList(),
            UserSessionsEnded all => [UserFloors.Line(all.UserId, all.Version, all.Reason)],
            _ => null,
        };
        if (remember is not null)
        {
            try
            {
                await bus.PublishAsync(remember);
            }
            catch (Exception e) when (IsTransient(e))
            {
                LogApplyFailed(logger, row.Kind, row.Id, e.GetType().Name);
            }
        }
        if (change is UserSessionsEnded userEnded)
        {
            try
            {
                if (writeRows || userEnded.Ended is null) change = userEnded with { Ended = await EndSessionRowsAsync(userEnded, ct) };
            }
            catch (Exception e) when (IsTransient(e))
            {
                LogApplyFailed(logger, row.Kind, row.Id, e.GetType().Name);
                return false;
            }
        }
        try
        {
            var lines = new List<string>();
            if (change is KeysChanged)
            {
                lines.Add($"{KeysKind}:");
            }
            else
            {
                var users = new HashSet<Guid>();
                await mode.ApplyAsync(change, users, ct);
                if (change is RolesChanged roles) lines.Add($"{RoleSets.InvalidationKind}:{roles.TenantId:N}");
                foreach (var user in users) lines.Add($"{UserKind}:{user:N}");
            }
            await bus.PublishAsync(lines);
            return true;
        }
        catch (Exception e) when (IsTransient(e))
        {
            LogApplyFailed(logger, row.Kind, row.Id, e.GetType().Name);
            return false;
        }
    }

    /// <summary>
    /// Writes the rows of the sessions a kick-all ended (the live rows of an older epoch) and returns them, with the
    /// rows it wrote before, so a replay restores their tombstones too. Writing twice changes nothing.
    /// </summary>
    private async Task<RevokedSession[]> EndSessionRowsAsync(UserSessionsEnded e, CancellationToken ct)
    {
        await using var db = await dbs.CreateDbContextAsync(ct);
        var stillUseful = time.GetUtcNow() - TimeSpan.FromMinutes(1);
        var rows = await db.Database.SqlQuery<RevokedSession>($"""
            WITH ended AS (
                UPDATE sessions SET "RevokedAt" = {e.At}, "RevokeReason" = {e.Reason}
                WHERE "UserId" = {e.UserId} AND "RevokedAt" IS NULL AND "UserEpoch" < {e.Epoch}
                RETURNING "Id", "UserId", "SecretHash", "AbsoluteExpiresAt", "CurrentJti", "CurrentJtiExpiresAt")
            SELECT "Id", "UserId", "SecretHash", "AbsoluteExpiresAt", "CurrentJti" AS "Jti", "CurrentJtiExpiresAt" AS "JtiExpiresAt" FROM ended
            UNION ALL
            SELECT "Id", "UserId", "SecretHash", "AbsoluteExpiresAt", "CurrentJti", "CurrentJtiExpiresAt" FROM sessions
            WHERE "UserId" = {e.UserId} AND "RevokedAt" = {e.At} AND "UserEpoch" < {e.Epoch} AND "AbsoluteExpiresAt" > {stillUseful}
            """).ToListAsync(ct);
        return [.. rows];
    }

    internal static bool IsTransient(Exception e) =>
        e is RedisException or RedisTimeoutException or NpgsqlException or TimeoutException or DbUpdateException
        || (e is InvalidOperationException && e.InnerException is NpgsqlException);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Applying outbox row {Id} ({Kind}) failed ({ExceptionType}); the relay retries it")]
    private static partial void LogApplyFailed(ILogger logger, string kind, long id, string exceptionType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Confirming applied outbox rows failed ({ExceptionType}); the relay applies them again")]
    private static partial void LogConfirmFailed(ILogger logger, string exceptionType);
}
