using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Tokens;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>
/// The two modes that keep the whole session server-side (Opaque and SessionCache). Per request: the L1, else one
/// Redis GET, else PostgreSQL (which then re-warms Redis). Expiry is checked on every request; the sliding expiry is
/// written at most once per <see cref="SessionLifetimeOptions.SlidingWriteInterval"/>, batched per instance.
/// </summary>
public abstract class ServerSessionMode
{
    /// <summary>An L1 entry: the Redis entry, and the principal built from it at a role-set version.</summary>
    protected sealed record View(SessionEntry Entry, AuthOutcome? Outcome = null, long RoleSetVersion = -1);

    /// <summary>Names one session: its L1 key, and what the mode needs to find it in Redis and PostgreSQL.</summary>
    protected readonly record struct SessionRef(CredentialKey Key, byte[]? SecretHash, Guid UserId, Guid SessionId);

    private readonly ServerSessionServices _s;
    private readonly LocalMap<CredentialKey, View> _local;

    protected ServerSessionMode(ServerSessionServices services)
    {
        _s = services;
        _local = services.Cache.CreateMap<CredentialKey, View>("sessions");
        services.Bus.On<SessionTombstone>(t =>
        {
            if (LocalKeyOf(t.SessionId, t.SecretHash) is { } key) _local.FillFinal(key, new View(SessionEntry.Tombstone(t.Reason)));
        });
    }

    /// <summary>The L1 key of a revoked session, or null if this mode keeps none for it.</summary>
    protected abstract CredentialKey? LocalKeyOf(Guid sessionId, byte[]? secretHash);

    protected RedisStore Redis => _s.Redis;
    protected TimeProvider Time => _s.Time;

    protected abstract RedisKey KeyOf(in SessionRef session);
    protected abstract RedisKey KeyOf(Session row);
    protected abstract RedisKey KeyOf(RevokedSession revoked);
    protected abstract IQueryable<Session> Find(AppDbContext db, SessionRef session);

    /// <summary>Whether this mode keeps an entry for the session (Opaque ones have a secret hash).</summary>
    protected virtual bool Holds(Session row) => true;
    protected virtual bool Holds(RevokedSession revoked) => true;

    /// <summary>
    /// The session's L1 entry, read once per request: the caller passes it on to <see cref="CheckAsync(SessionRef, View?, bool, CancellationToken)"/>
    /// (a second read cost a second lookup, and counted it twice in <c>sessiongate.cache.lookups</c>).
    /// </summary>
    protected View? Cached(in SessionRef session, bool databaseOnly) => !databaseOnly && _local.TryGet(session.Key, out var view) ? view : null;

    protected ValueTask<AuthOutcome> CheckAsync(SessionRef session, bool databaseOnly, CancellationToken ct) =>
        CheckAsync(session, Cached(session, databaseOnly), databaseOnly, ct);

    /// <summary>Decides on <paramref name="cached"/> (what <see cref="Cached"/> found), else reads Redis, else PostgreSQL.</summary>
    protected async ValueTask<AuthOutcome> CheckAsync(SessionRef session, View? cached, bool databaseOnly, CancellationToken ct)
    {
        if (cached is not null) return await DecideAsync(session, cached, databaseOnly, ct);

        var sequence = _s.Cache.Sequence;
        SessionEntry? entry;
        if (databaseOnly)
        {
            entry = await RebuildAsync(session, ct);
            if (entry is null) return AuthOutcome.Unknown;
        }
        else
        {
            var key = KeyOf(session);
            using (_s.Metrics.Time("redis", "get_session")) entry = await Redis.GetSessionAsync(key);
            if (entry is null)
            {
                // Redis lost it (flush, restart, failover, eviction) or never had it: PostgreSQL decides.
                entry = await RebuildAsync(session, ct);
                if (entry is null) return AuthOutcome.Unknown;
                try
                {
                    await Redis.WriteSessionAsync(key, entry, EntryTtl(entry));
                    // A revocation may have landed in between; its tombstone won, so read what Redis holds now.
                    if (entry.Live is not null) entry = await Redis.GetSessionAsync(key) ?? entry;
                }
                catch (RedisServerException)
                {
                    // Redis answers but refuses writes (maxmemory, MISCONF): PostgreSQL's answer stands for this request.
                    return await DecideAsync(session, new View(entry), databaseOnly: true, ct);
                }
            }
            var view = new View(entry);
            if (entry.Live is { } live) _local.Fill(session.Key, view, live.UserId, sequence);
            else _local.FillFinal(session.Key, view);
            return await DecideAsync(session, view, databaseOnly, ct);
        }
        return await DecideAsync(session, new View(entry), databaseOnly, ct);
    }

    private async ValueTask<AuthOutcome> DecideAsync(SessionRef session, View view, bool databaseOnly, CancellationToken ct)
    {
        if (view.Entry.Live is not { } s) return AuthOutcome.Revoked(view.Entry.Revoked ?? RevokeReasons.Kicked);
        var minRoles = 0L;
        if (!databaseOnly)
        {
            // A kick-all announced a floor: its tombstones may not have reached Redis (or this L1) yet.
            if (_s.Floors.Refuses(s.UserId, s.Version) is { } floored) return AuthOutcome.Revoked(floored);
            // Changes Redis has not proven it holds (it may have lost them, or refused them): they win over its answer.
            var pending = _s.Proof.Pending;
            var judged = pending.Judge(s.UserId, s.SessionId, s.Version);
            if (judged.Verdict == PendingVerdict.Revoked) return AuthOutcome.Revoked(judged.Reason!);
            if (judged.Verdict == PendingVerdict.Stale) return await DecideFromDatabaseAsync(session, ct);
            minRoles = pending.MinRolesVersion(s.TenantId);
        }
        if (session.UserId != Guid.Empty && (s.UserId != session.UserId || s.SessionId != session.SessionId)) return AuthOutcome.Unknown;
        var now = Time.GetUtcNow();
        if (s.IsExpired(now)) return AuthOutcome.Revoked(RevokeReasons.Expired);

        var roles = await _s.RoleSets.GetAsync(s.TenantId, s.RoleIds, databaseOnly, ct, minRoles);
        var read = view;
        var outcome = view.Outcome;
        if (outcome is null || view.RoleSetVersion != roles.Version)
        {
            var (names, permissions) = roles.Resolve(s.RoleIds);
            var identity = new SessionIdentity(s.UserId, s.TenantId, roles.TenantSlug, s.Username, s.SessionId, s.DeviceType,
                names, permissions, s.CreatedAt, s.AbsoluteExpiresAt, s.Assurance);
            outcome = AuthOutcome.Success(identity.ToPrincipal());
            view = view with { Outcome = outcome, RoleSetVersion = roles.Version };
        }
        if (now - s.LastTouchedAt >= _s.Options.SlidingWriteInterval)
        {
            var slid = s with { LastTouchedAt = now, IdleExpiresAt = _s.Options.NextIdleExpiry(now, s.AbsoluteExpiresAt) };
            _s.Slider.Enqueue(slid, databaseOnly ? (RedisKey?)null : KeyOf(session));
            view = view with { Entry = SessionEntry.Of(slid) };
        }
        // Only over the entry this request read: one that an invalidation replaced meanwhile is left alone.
        if (!databaseOnly && !ReferenceEquals(view, read)) _local.Update(session.Key, read, view);
        return outcome;
    }

    // Redis's entry is older than a change it has not proven it holds: PostgreSQL decides, and the entry is rewritten
    // (only forward), so the next request finds Redis current again.
    private async ValueTask<AuthOutcome> DecideFromDatabaseAsync(SessionRef session, CancellationToken ct)
    {
        var truth = await RebuildAsync(session, ct);
        if (truth is null) return AuthOutcome.Unknown;
        try
        {
            await Redis.WriteSessionAsync(KeyOf(session), truth, EntryTtl(truth));
        }
        catch (Exception e) when (e is RedisException or RedisTimeoutException)
        {
            // Redis refuses writes: the pending change keeps sending this session here until it takes them.
        }
        return await DecideAsync(session, new View(truth), databaseOnly: true, ct);
    }

    private async Task<SessionEntry?> RebuildAsync(SessionRef session, CancellationToken ct)
    {
        using var timer = _s.Metrics.Time("postgres", "load_session");
        await using var db = await _s.Dbs.CreateDbContextAsync(ct);
        return await SessionReader.LoadEntryAsync(db, Find(db, session), ct);
    }

    public Task AfterIssueAsync(Session session, SessionSnapshot snapshot, CancellationToken ct) =>
        Redis.WriteSessionAsync(KeyOf(session), SessionEntry.Of(snapshot), snapshot.RemainingLife(Time.GetUtcNow()));

    public async Task ApplyAsync(RevocationEvent change, ISet<Guid> usersToInvalidate, CancellationToken ct)
    {
        switch (change)
        {
            case SessionsRevoked revoked:
                await WriteTombstonesAsync(revoked.Reason, revoked.Sessions);
                usersToInvalidate.UnionWith(revoked.Sessions.Select(s => s.UserId));
                break;
            case UserSessionsEnded all:
                // No entry of the user is live any more (the epoch moved): tombstones, and nothing to rewrite.
                await WriteTombstonesAsync(all.Reason, all.Ended ?? []);
                usersToInvalidate.Add(all.UserId);
                break;
            case UsersChanged users:
                await RewriteLiveAsync(users.Users, ct);
                usersToInvalidate.UnionWith(users.Users);
                break;
            case RolesChanged roles:
                // Entries hold role ids; the tenant's role set carries the permissions, so it alone is rewritten.
                await _s.RoleSets.RefreshAsync(roles.TenantId, ct);
                break;
        }
    }

    private Task WriteTombstonesAsync(string reason, RevokedSession[] sessions)
    {
        var now = Time.GetUtcNow();
        return Task.WhenAll(sessions.Where(Holds).Select(s =>
            Redis.WriteSessionAsync(KeyOf(s), SessionEntry.Tombstone(reason), TombstoneTtl(s.AbsoluteExpiresAt, now))));
    }

    /// <summary>Rewrites the users' live entries with what PostgreSQL holds now (roles, name, security version).</summary>
    private async Task RewriteLiveAsync(Guid[] users, CancellationToken ct)
    {
        await using var db = await _s.Dbs.CreateDbContextAsync(ct);
        var now = Time.GetUtcNow();
        var live = await SessionReader.LoadSnapshotsAsync(db, db.Sessions.Where(s => users.Contains(s.UserId)).Where(SessionReader.IsLive(now)), ct);
        await Task.WhenAll(live.Where(l => Holds(l.Row)).Select(l => Redis.WriteSessionAsync(KeyOf(l.Row), SessionEntry.Of(l.Snapshot), l.Snapshot.RemainingLife(now))));
    }

    private TimeSpan EntryTtl(SessionEntry entry) =>
        entry.Live is { } live ? live.RemainingLife(Time.GetUtcNow()) : TimeSpan.FromHours(1);

    // A tombstone answers with the reason for an hour at most; after that PostgreSQL does (and writes it again).
    private static TimeSpan TombstoneTtl(DateTimeOffset absoluteExpiresAt, DateTimeOffset now)
    {
        var remaining = absoluteExpiresAt - now;
        return remaining > TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : remaining + TimeSpan.FromMinutes(1);
    }
}
