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
        var row = new OutboxMessage { Kind = change.Kind, Payload = change.Write(), CreatedAt = time.GetUtcNow() };
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
            if (await TryApplyAsync(row, CancellationToken.None)) applied.Add(row.Id);
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

    /// <summary>Makes Redis agree with one committed change and tells every instance; false if Redis (or PostgreSQL) failed.</summary>
    public async Task<bool> TryApplyAsync(OutboxMessage row, CancellationToken ct)
    {
        var change = RevocationEvent.Read(row.Kind, row.Payload);
        if (change is null) return true;
        if (change is SessionsRevoked ended)
        {
            // First, and whatever Redis does with the write below: every instance remembers the tombstones in its L1,
            // so a write Redis refuses (or loses) does not let the session back in while the relay retries.
            try
            {
                await bus.PublishAsync(ended.Sessions.Select(s => TombstoneLine(s, ended.Reason)).ToList());
            }
            catch (Exception e) when (IsTransient(e))
            {
                LogApplyFailed(logger, row.Kind, row.Id, e.GetType().Name);
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

    internal static bool IsTransient(Exception e) =>
        e is RedisException or RedisTimeoutException or NpgsqlException or TimeoutException or DbUpdateException
        || (e is InvalidOperationException && e.InnerException is NpgsqlException);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Applying outbox row {Id} ({Kind}) failed ({ExceptionType}); the relay retries it")]
    private static partial void LogApplyFailed(ILogger logger, string kind, long id, string exceptionType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Confirming applied outbox rows failed ({ExceptionType}); the relay applies them again")]
    private static partial void LogConfirmFailed(ILogger logger, string exceptionType);
}
