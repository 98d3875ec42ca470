using Npgsql;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Tokens;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>
/// The one way a change reaches every instance:
/// <list type="number">
/// <item>PostgreSQL commits the change and an outbox row in one transaction (<see cref="Enqueue"/>);</item>
/// <item>the request applies it to Redis at once and publishes the invalidation (<see cref="ApplyCommittedAsync"/>);</item>
/// <item>the outbox relay (<c>Outbox/OutboxRelay</c>) re-applies rows that were not confirmed, and replays recent ones when Redis may have lost writes;</item>
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
    /// <summary>The error recorded for a row whose payload cannot be read (set aside at once).</summary>
    public const string MalformedPayload = "malformed payload";

    /// <summary>Adds the outbox row to <paramref name="db"/>'s unit of work; it commits with the change.</summary>
    public OutboxMessage Enqueue(AppDbContext db, RevocationEvent change)
    {
        var row = new OutboxMessage { Kind = change.Kind, Payload = change.Write(), CreatedAt = time.GetUtcNow(), Change = change };
        db.Outbox.Add(row);
        return row;
    }

    /// <summary>
    /// Applies the rows this request committed. Nothing is confirmed here: the relay applies every row again before
    /// Redis's marks may cover it (see <see cref="RedisProof"/>), so a write that fails or is lost here is repaired
    /// there, and meanwhile every instance holds Redis's answers against the row.
    /// </summary>
    public async Task ApplyCommittedAsync(IReadOnlyList<OutboxMessage> rows)
    {
        foreach (var row in rows)
        {
            // A kick-all's tombstones are written here, its sessions' rows by the relay: the request pays for one
            // user's row, not for a thousand sessions'.
            if (row.Change is RevocationEvent change) await TryApplyAsync(change, CancellationToken.None, writeRows: row.Kind != UserSessionsEnded.Name);
        }
    }

    /// <summary>Applies a change that has no row of its own (a retried logout or kick re-announcing an ended session).</summary>
    public Task ApplyUnrecordedAsync(RevocationEvent change) => TryApplyAsync(change, CancellationToken.None);

    /// <summary>
    /// Makes Redis agree with one committed change and tells every instance; false if Redis (or PostgreSQL) failed.
    /// <paramref name="writeRows"/>: also write the sessions' rows that a <see cref="UserSessionsEnded"/> ended (the
    /// request leaves them to the relay, and passes the sessions it read).
    /// </summary>
    public async Task<bool> TryApplyAsync(RevocationEvent change, CancellationToken ct, bool writeRows = true)
    {
        // First, and whatever Redis does with the writes below: every instance remembers the revocation in its L1, so
        // a write Redis refuses (or loses) does not let a session back in before the relay has retried it.
        var remember = change switch
        {
            SessionsRevoked ended => ended.Sessions.Select(s => Invalidation.Line(new SessionTombstone(s.Id, s.SecretHash, ended.Reason))).ToList(),
            UserSessionsEnded all => [Invalidation.Line(new UserFloorRaised(all.UserId, all.Version, all.Reason))],
            _ => null,
        };
        if (remember is not null)
        {
            try
            {
                await bus.PublishAsync(remember);
            }
            catch (Exception e) when (DependencyHealth.IsTransient(e))
            {
                LogApplyFailed(logger, change.Kind, e.GetType().Name);
            }
        }
        try
        {
            await ApplyAsync(change, writeRows, ct);
            return true;
        }
        catch (Exception e) when (DependencyHealth.IsTransient(e))
        {
            LogApplyFailed(logger, change.Kind, e.GetType().Name);
            return false;
        }
    }

    // Redis's half of a change, and the invalidation of the users (and role sets) it concerns.
    private async Task ApplyAsync(RevocationEvent change, bool writeRows, CancellationToken ct)
    {
        if (change is UserSessionsEnded userEnded && (writeRows || userEnded.Ended is null))
            change = userEnded with { Ended = await EndSessionRowsAsync(userEnded, ct) };
        var lines = new List<string>();
        if (change is KeysChanged)
        {
            lines.Add(Invalidation.Line(new KeysInvalidated()));
        }
        else
        {
            var users = new HashSet<Guid>();
            await mode.ApplyAsync(change, users, ct);
            if (change is RolesChanged roles) lines.Add(Invalidation.Line(new RoleSetInvalidated(roles.TenantId)));
            foreach (var user in users) lines.Add(Invalidation.Line(new UserInvalidated(user)));
        }
        await bus.PublishAsync(lines);
    }

    /// <summary>A row that could not be applied: why, and whether that was an outage rather than the row itself.</summary>
    public sealed record Failure(long Id, string Error, bool Outage);

    /// <summary>What became of re-applying a batch of rows.</summary>
    public sealed record Reapplied(bool Complete, IReadOnlyList<Failure> Failed);

    /// <summary>
    /// Applies committed rows again, collapsed: the sessions of many logouts in a few writes, each user and tenant
    /// once, each kick-all in order. Stops at the first outage (<see cref="Reapplied.Complete"/> false). A change that
    /// fails for another reason, or a payload that cannot be read, is reported per row and the rest goes on.
    /// </summary>
    public async Task<Reapplied> ReapplyAsync(IReadOnlyList<OutboxMessage> rows, CancellationToken ct)
    {
        var failed = new List<Failure>();
        var parsed = new List<(OutboxMessage Row, RevocationEvent Change)>();
        foreach (var row in rows)
        {
            var read = PendingChanges.Read(row);
            if (read.Change is null)
            {
                if (IsKnown(row.Kind)) failed.Add(new Failure(row.Id, MalformedPayload, false));
                continue;
            }
            parsed.Add((row, read.Change));
        }
        var groups = new List<(RevocationEvent Change, IReadOnlyList<long> Ids)>();
        foreach (var byReason in parsed.Where(p => p.Change is SessionsRevoked).GroupBy(p => ((SessionsRevoked)p.Change).Reason))
        {
            var sessions = byReason.SelectMany(p => ((SessionsRevoked)p.Change).Sessions).DistinctBy(s => s.Id).ToList();
            foreach (var chunk in sessions.Chunk(500)) groups.Add((new SessionsRevoked(byReason.Key, chunk), byReason.Select(p => p.Row.Id).ToList()));
        }
        var changedUsers = parsed.Where(p => p.Change is UsersChanged).ToList();
        foreach (var chunk in changedUsers.SelectMany(p => ((UsersChanged)p.Change).Users).Distinct().Chunk(500))
            groups.Add((new UsersChanged(RevokeReasons.RolesChanged, chunk), changedUsers.Select(p => p.Row.Id).ToList()));
        foreach (var tenant in parsed.Where(p => p.Change is RolesChanged).GroupBy(p => ((RolesChanged)p.Change).TenantId))
            groups.Add((new RolesChanged(tenant.Key, [.. tenant.SelectMany(p => ((RolesChanged)p.Change).Users).Distinct()]), tenant.Select(p => p.Row.Id).ToList()));
        foreach (var ended in parsed.Where(p => p.Change is UserSessionsEnded)) groups.Add((ended.Change, [ended.Row.Id]));
        if (parsed.FirstOrDefault(p => p.Change is KeysChanged) is { Change: not null } keys) groups.Add((keys.Change, [keys.Row.Id]));

        foreach (var (change, ids) in groups)
        {
            try
            {
                await ApplyAsync(change, writeRows: true, ct);
            }
            catch (Exception e) when (DependencyHealth.IsTransient(e))
            {
                if (ids.Count == 1 || !await ApplyOneByOneAsync(parsed.Where(p => ids.Contains(p.Row.Id)).ToList(), failed, ct))
                {
                    if (ids.Count == 1) failed.Add(new Failure(ids[0], e.GetType().Name, IsOutage(e)));
                    return new Reapplied(false, failed);
                }
            }
            catch (Exception e)
            {
                LogReapplyFailed(logger, change.Kind, e.GetType().Name);
                if (ids.Count == 1) failed.Add(new Failure(ids[0], e.GetType().Name, false));
                else await ApplyOneByOneAsync(parsed.Where(p => ids.Contains(p.Row.Id)).ToList(), failed, ct);
            }
        }
        return new Reapplied(true, failed);
    }

    // Finds which rows of a failed group fail on their own; false when every one of them failed (an outage, likely).
    private async Task<bool> ApplyOneByOneAsync(List<(OutboxMessage Row, RevocationEvent Change)> rows, List<Failure> failed, CancellationToken ct)
    {
        var any = false;
        foreach (var (row, change) in rows)
        {
            try
            {
                await ApplyAsync(change, writeRows: true, ct);
                any = true;
            }
            catch (Exception e)
            {
                failed.Add(new Failure(row.Id, e.GetType().Name, IsOutage(e)));
            }
        }
        return any;
    }

    private static bool IsKnown(string kind) =>
        kind is SessionsRevoked.Name or UsersChanged.Name or UserSessionsEnded.Name or RolesChanged.Name or KeysChanged.Name;

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

    /// <summary>
    /// A failure of the dependency rather than of the change: no connection, a timeout, a master failing over or
    /// loading, Redis refusing writes (OOM, MISCONF, NOREPLICAS, READONLY), PostgreSQL unreachable. Such a row is retried
    /// for as long as it takes, never set aside.
    /// </summary>
    internal static bool IsOutage(Exception e) => e switch
    {
        RedisConnectionException or RedisTimeoutException or TimeoutException or NpgsqlException or DbUpdateException => true,
        InvalidOperationException { InnerException: NpgsqlException } => true,
        RedisServerException s => OutageReplies.Any(r => s.Message.StartsWith(r, StringComparison.Ordinal)) || s.Message.Contains("MOVED", StringComparison.Ordinal),
        RedisException r => r.Message.Contains("not reachable", StringComparison.Ordinal) || r.Message.Contains("No connection", StringComparison.Ordinal),
        _ => false,
    };

    private static readonly string[] OutageReplies = ["OOM", "MISCONF", "NOREPLICAS", "READONLY", "CLUSTERDOWN", "LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "ASK", "MOVED"];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Applying a {Kind} change failed ({ExceptionType}); the relay applies it again")]
    private static partial void LogApplyFailed(ILogger logger, string kind, string exceptionType);

    [LoggerMessage(Level = LogLevel.Error, Message = "Re-applying a {Kind} change failed ({ExceptionType}); its rows are tried one by one")]
    private static partial void LogReapplyFailed(ILogger logger, string kind, string exceptionType);
}
