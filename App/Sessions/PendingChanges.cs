using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>What <see cref="PendingChanges"/> says of a credential that Redis (or the L1) called live.</summary>
public enum PendingVerdict
{
    /// <summary>No change Redis may lack concerns it: Redis's answer stands.</summary>
    None,
    /// <summary>A change Redis may lack revoked it (<see cref="PendingChanges.Judgement.Reason"/> says why).</summary>
    Revoked,
    /// <summary>A change Redis may lack moved the user past what the answer was read at: ask PostgreSQL.</summary>
    Stale,
}

/// <summary>
/// The committed changes that Redis has not proven it holds: every outbox row at or above the lowest mark of the
/// Redis masters (see <see cref="RedisMarks"/>), and every row set aside. Each instance reads them from PostgreSQL
/// on every tick, so they cannot be lost the way a pub/sub message or a Redis write can; the hot path holds Redis's
/// answer against them. An immutable snapshot: the hot path reads one without locks, and it is empty (one branch)
/// whenever Redis has proven everything.
/// </summary>
public sealed class PendingChanges
{
    public static readonly PendingChanges None = new([]);

    /// <summary>One change as the index keeps it.</summary>
    public sealed record Row(long Id, long TxId, DateTimeOffset CreatedAt, bool SetAside, RevocationEvent? Change);

    public readonly record struct Judgement(PendingVerdict Verdict, string? Reason)
    {
        public static readonly Judgement Fine = new(PendingVerdict.None, null);
    }

    // Versions no row states (rows from before versions were recorded): PostgreSQL decides.
    private const long Unknown = long.MaxValue;

    private readonly Dictionary<Guid, string> _sessions = [];
    private readonly Dictionary<string, string> _jtis = new(StringComparer.Ordinal);
    private readonly Dictionary<Guid, (long Version, string Reason)> _floors = [];
    private readonly Dictionary<Guid, (long Version, string Reason)> _versions = [];
    private readonly Dictionary<Guid, long> _tenants = [];

    public PendingChanges(IReadOnlyCollection<Row> rows)
    {
        Rows = rows;
        foreach (var row in rows)
        {
            if (row.CreatedAt < OldestAt || OldestAt == default) OldestAt = row.CreatedAt;
            switch (row.Change)
            {
                case SessionsRevoked revoked:
                    foreach (var s in revoked.Sessions)
                    {
                        _sessions.TryAdd(s.Id, revoked.Reason);
                        if (s.Jti is not null) _jtis.TryAdd(s.Jti, revoked.Reason);
                    }
                    break;
                case UserSessionsEnded ended:
                    Raise(_floors, ended.UserId, ended.Version, ended.Reason);
                    break;
                case UsersChanged users:
                    for (var i = 0; i < users.Users.Length; i++)
                        Raise(_versions, users.Users[i], users.Versions is { } v && i < v.Length ? v[i] : Unknown, users.Reason);
                    break;
                case RolesChanged roles:
                    _tenants[roles.TenantId] = Math.Max(_tenants.GetValueOrDefault(roles.TenantId), roles.RolesVersion ?? Unknown);
                    for (var i = 0; i < roles.Users.Length; i++)
                        Raise(_versions, roles.Users[i], roles.Versions is { } v && i < v.Length ? v[i] : Unknown, Infrastructure.RevokeReasons.RolesChanged);
                    break;
            }
        }
        IsEmpty = _sessions.Count == 0 && _floors.Count == 0 && _versions.Count == 0 && _tenants.Count == 0;
    }

    /// <summary>True when nothing concerns any credential: the hot path skips every lookup.</summary>
    public bool IsEmpty { get; }

    public IReadOnlyCollection<Row> Rows { get; }

    /// <summary>When the oldest row was written (default when there is none).</summary>
    public DateTimeOffset OldestAt { get; }

    /// <summary>Judges a session whose Redis entry (or token) is live, read at the user's security <paramref name="version"/>.</summary>
    public Judgement Judge(Guid userId, Guid sessionId, long version, string? jti = null)
    {
        if (IsEmpty) return Judgement.Fine;
        if (_sessions.TryGetValue(sessionId, out var reason)) return new(PendingVerdict.Revoked, reason);
        if (jti is not null && _jtis.TryGetValue(jti, out reason)) return new(PendingVerdict.Revoked, reason);
        if (_floors.TryGetValue(userId, out var floor) && version < floor.Version) return new(PendingVerdict.Revoked, floor.Reason);
        if (_versions.TryGetValue(userId, out var moved) && version < moved.Version)
            return moved.Version == Unknown ? new(PendingVerdict.Stale, null) : new(PendingVerdict.Stale, moved.Reason);
        return Judgement.Fine;
    }

    /// <summary>The lowest role-set version of the tenant that may be trusted (0 when no change is pending).</summary>
    public long MinRolesVersion(Guid tenantId) => !IsEmpty && _tenants.TryGetValue(tenantId, out var v) ? v : 0;

    private static void Raise(Dictionary<Guid, (long Version, string Reason)> map, Guid user, long version, string reason)
    {
        if (!map.TryGetValue(user, out var current) || current.Version < version) map[user] = (version, reason);
    }

    /// <summary>Reads one outbox row; a malformed payload reads as no change (the relay sets such a row aside).</summary>
    public static Row Read(OutboxMessage row)
    {
        RevocationEvent? change;
        try
        {
            change = row.Change as RevocationEvent ?? RevocationEvent.Read(row.Kind, row.Payload);
        }
        catch (System.Text.Json.JsonException)
        {
            change = null;
        }
        return new Row(row.Id, row.TxId, row.CreatedAt, row.SetAsideAt is not null, change);
    }
}
