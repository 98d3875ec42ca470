using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Tokens;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>How far this instance may believe Redis.</summary>
public enum RedisTrust
{
    /// <summary>Redis has not been read since start: nothing is proven (fail closed, or PostgreSQL when configured).</summary>
    Unknown,
    /// <summary>Every master holds every change below the floor; the changes above it are held against Redis's answers.</summary>
    Proven,
    /// <summary>A master came back older than the outbox still reaches (or PostgreSQL cannot be asked): PostgreSQL decides.</summary>
    Unprovable,
}

/// <summary>
/// Redis proves how current it is before its answers count. On every tick each instance reads every master's mark
/// (<see cref="RedisMarks"/>); the lowest is the floor. Every outbox row at or above the floor, and every row set
/// aside, is read from PostgreSQL into <see cref="Pending"/>, and the hot path holds Redis's answers against them:
/// so a master that lost writes (a restart from an older snapshot, a promoted stale replica, a failover behind a
/// proxy) or refuses them (<c>maxmemory</c>, <c>MISCONF</c>) brings back nothing that PostgreSQL has moved past, and no
/// reconnect event is needed to notice it. A mark older than the oldest row PostgreSQL still keeps cannot be caught up
/// from: the instance moves the key generation (every cached key gets a new name and is rebuilt from PostgreSQL) and
/// lets PostgreSQL decide until it has.
/// </summary>
public sealed partial class RedisProof(
    IDbContextFactory<AppDbContext> dbs,
    RedisMarks marks,
    RedisStore redis,
    LocalCache cache,
    InvalidationBus bus,
    IOptions<RedisOptions> redisOptions,
    TimeProvider time,
    ILogger<RedisProof> logger)
{
    private readonly string _prefix = redisOptions.Value.KeyPrefix;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<long, PendingChanges.Row> _rows = [];
    private Dictionary<long, PendingChanges.Row> _setAside = [];
    private readonly HashSet<long> _keysSeen = [];
    private volatile PendingChanges _pending = PendingChanges.None;
    private volatile RedisTrust _trust = RedisTrust.Unknown;
    private RedisKeyspace? _keyspace;
    private long _loadedFrom = long.MaxValue;
    private long _nextFrom;
    private bool _dirty;
    private bool _marksFailing;
    private long _publishedFloor = -1;
    private long _connectionEpoch;

    /// <summary>The changes Redis has not proven it holds (an immutable snapshot).</summary>
    public PendingChanges Pending => _pending;

    public RedisTrust Trust => _trust;

    /// <summary>The masters as the last tick read them (their marks and identities), or null.</summary>
    public IReadOnlyList<MasterState>? Masters { get; private set; }

    /// <summary>The lowest transaction horizon every master holds (the last tick's).</summary>
    public long Floor { get; private set; }

    /// <summary>The key generation in use and where the outbox begins (the last tick's).</summary>
    public RedisKeyspace? Keyspace => _keyspace;

    /// <summary>
    /// The app's connection to a Redis master broke: what answers when it is back may be another process, older than
    /// this one (a restart from a snapshot, a promoted replica). Nothing is proven until the marks are read again: the
    /// refresh that the reconnect starts decides, and one already under way (it may have read the old process) does not.
    /// </summary>
    public void ConnectionLost()
    {
        Interlocked.Increment(ref _connectionEpoch);
        _trust = RedisTrust.Unknown;
    }

    /// <summary>Key generations this instance moved to because Redis could not be caught up (metrics).</summary>
    public long GenerationsMoved => Interlocked.Read(ref _generationsMoved);
    private long _generationsMoved;

    /// <summary>
    /// One tick: read the marks, then PostgreSQL. Never throws for an outage: with Redis unreadable nothing changes
    /// (requests fail on Redis anyway); with PostgreSQL down, a floor that dropped cannot be caught up, so PostgreSQL
    /// (down) decides and requests fail closed.
    /// </summary>
    public async Task RefreshAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            for (var attempt = 0; attempt < 2 && !await RefreshOnceAsync(ct); attempt++) { }
        }
        finally
        {
            _gate.Release();
        }
    }

    // False when the generation moved and the tick should run again at once.
    private async Task<bool> RefreshOnceAsync(CancellationToken ct)
    {
        var epoch = Interlocked.Read(ref _connectionEpoch);
        IReadOnlyList<MasterState>? masters = null;
        try
        {
            masters = await marks.ReadAsync();
            if (_marksFailing) LogMarksReadable(logger);
            _marksFailing = false;
        }
        catch (Exception e) when (e is RedisException or RedisTimeoutException or TimeoutException)
        {
            // Once per streak: a Redis outage is logged where requests meet it (DependencyHealth).
            if (!_marksFailing) LogMarksUnreadable(logger, e.GetType().Name, e.Message);
            _marksFailing = true;
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        var databaseUp = true;
        try
        {
            _keyspace = await LoadKeyspaceAsync(db, ct);
        }
        catch (Exception e) when (DependencyHealth.IsTransient(e))
        {
            databaseUp = false;
        }
        if (_keyspace is not { } keyspace) return true; // PostgreSQL never answered since start: stay Unknown

        if (keyspace.Generation != redis.Generation)
        {
            // Everything cached under the old name is abandoned; what this instance's L1 read from it goes too.
            redis.UseGeneration(keyspace.Generation);
            cache.DropLive();
            _rows.Clear();
            _keysSeen.Clear();
            _loadedFrom = long.MaxValue;
            _dirty = true;
            if (masters is null) _trust = RedisTrust.Unknown;
        }
        if (masters is null) return true;
        Masters = masters;

        var floor = masters.Min(m => m.Mark is { } mark && mark.Generation == keyspace.Generation ? mark.Horizon : keyspace.GenerationStart);
        if (floor < keyspace.PrunedBelow)
        {
            // A master came back older than the outbox reaches (or was emptied without persistence): it cannot be
            // caught up, so abandon what it holds. PostgreSQL decides until this instance runs on the new generation.
            cache.DropLive();
            Decide(epoch, RedisTrust.Unprovable);
            if (!databaseUp) return true;
            LogUnprovable(logger, floor, keyspace.PrunedBelow, keyspace.Generation + 1);
            await MoveGenerationAsync(db, keyspace.Generation, ct);
            return false;
        }
        if (floor < Floor && _trust == RedisTrust.Proven)
        {
            // A master lost writes it had acknowledged: what the L1 read from it meanwhile goes, and the rows it lacks
            // are pending again (below) until the relay has written them back.
            cache.DropLive();
            LogRewound(logger, Floor, floor);
        }
        Floor = floor;

        if (!databaseUp)
        {
            // The rows this instance holds still cover the floor (it did not drop below them): keep them.
            Decide(epoch, floor >= _loadedFrom ? RedisTrust.Proven : RedisTrust.Unprovable);
            Publish(floor);
            return true;
        }
        try
        {
            await LoadRowsAsync(db, floor, ct);
        }
        catch (Exception e) when (DependencyHealth.IsTransient(e))
        {
            Decide(epoch, floor >= _loadedFrom ? RedisTrust.Proven : RedisTrust.Unprovable);
            Publish(floor);
            return true;
        }
        Publish(floor);
        Decide(epoch, RedisTrust.Proven);
        return true;
    }

    // A connection lost since this refresh began may mean the marks it read were the old process's: decide nothing.
    private void Decide(long epoch, RedisTrust trust)
    {
        if (Interlocked.Read(ref _connectionEpoch) == epoch) _trust = trust;
    }

    private async Task LoadRowsAsync(AppDbContext db, long floor, CancellationToken ct)
    {
        // A transaction not visible to the query below has an id at or above this horizon, read first: the next tick
        // reads from here and cannot skip a row that commits late.
        var horizon = await CurrentHorizonAsync(db, ct);
        // Below the last horizon every row that will ever exist was seen by the last tick (from its own floor on).
        var from = floor < _loadedFrom ? floor : Math.Max(_nextFrom, floor);
        var fresh = await db.Outbox.AsNoTracking().Where(o => o.TxId >= from && o.SetAsideAt == null).ToListAsync(ct);
        var setAside = await db.Outbox.AsNoTracking().Where(o => o.SetAsideAt != null).ToListAsync(ct);
        foreach (var row in fresh)
        {
            if (_rows.ContainsKey(row.Id)) continue;
            var read = PendingChanges.Read(row);
            _rows[row.Id] = read;
            _dirty = true;
            if (read.Change is KeysChanged && _keysSeen.Add(row.Id)) bus.Deliver([Invalidation.Line(new KeysInvalidated())]);
        }
        if (setAside.Count != _setAside.Count || setAside.Any(r => !_setAside.ContainsKey(r.Id)))
        {
            _setAside = setAside.Select(PendingChanges.Read).ToDictionary(r => r.Id);
            _dirty = true;
        }
        foreach (var id in _rows.Where(r => r.Value.TxId < floor).Select(r => r.Key).ToList())
        {
            _rows.Remove(id);
            _keysSeen.Remove(id);
            _dirty = true;
        }
        _loadedFrom = floor;
        _nextFrom = horizon;
    }

    private void Publish(long floor)
    {
        if (!_dirty && _publishedFloor == floor) return;
        var rows = _rows.Values.Where(r => r.TxId >= floor).Concat(_setAside.Values).ToList();
        _pending = rows.Count == 0 ? PendingChanges.None : new PendingChanges(rows);
        _dirty = false;
        _publishedFloor = floor;
    }

    /// <summary>The rows not yet proven in Redis (set-aside ones excluded), and the age of the oldest (metrics).</summary>
    public (long Count, TimeSpan OldestAge) Backlog
    {
        get
        {
            var pending = _pending;
            var rows = pending.Rows.Where(r => !r.SetAside).ToList();
            return rows.Count == 0 ? (0, TimeSpan.Zero) : (rows.Count, time.GetUtcNow() - rows.Min(r => r.CreatedAt));
        }
    }

    /// <summary>Rows set aside (a change no attempt could apply): their users are decided by PostgreSQL.</summary>
    public int SetAside => _pending.Rows.Count(r => r.SetAside);

    private async Task<RedisKeyspace> LoadKeyspaceAsync(AppDbContext db, CancellationToken ct)
    {
        var keyspace = await db.RedisKeyspaces.AsNoTracking().FirstOrDefaultAsync(k => k.Prefix == _prefix, ct);
        if (keyspace is not null) return keyspace;
        // The first instance ever: generation 1 begins now, and no key of it can predate a transaction running now.
        var now = time.GetUtcNow();
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO redis_keyspaces ("Prefix", "Generation", "GenerationStart", "PrunedBelow", "WriterUntil", "ChangedAt")
            VALUES ({_prefix}, 1, pg_snapshot_xmin(pg_current_snapshot())::text::bigint, 0, {DateTimeOffset.UnixEpoch}, {now})
            ON CONFLICT DO NOTHING
            """, ct);
        return await db.RedisKeyspaces.AsNoTracking().FirstAsync(k => k.Prefix == _prefix, ct);
    }

    private async Task MoveGenerationAsync(AppDbContext db, long from, CancellationToken ct)
    {
        // Only one instance moves it: the others find it moved on their next read.
        var moved = await db.Database.ExecuteSqlAsync($"""
            UPDATE redis_keyspaces SET "Generation" = "Generation" + 1,
                "GenerationStart" = pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "ChangedAt" = {time.GetUtcNow()}
            WHERE "Prefix" = {_prefix} AND "Generation" = {from}
            """, ct);
        if (moved == 1) Interlocked.Increment(ref _generationsMoved);
    }

    /// <summary>Every transaction below this id has ended (committed or not): rows below it can no longer appear.</summary>
    public static async Task<long> CurrentHorizonAsync(AppDbContext db, CancellationToken ct) =>
        (await db.Database.SqlQuery<long>($"""SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS "Value" """).ToListAsync(ct))[0];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis marks unreadable ({ExceptionType}: {Reason}); Redis is proven as of the last tick")]
    private static partial void LogMarksUnreadable(ILogger logger, string exceptionType, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Redis marks readable again")]
    private static partial void LogMarksReadable(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis cannot be caught up: a master's mark ({Floor}) is older than the outbox reaches ({PrunedBelow}); moving to key generation {Generation}, PostgreSQL decides meanwhile")]
    private static partial void LogUnprovable(ILogger logger, long floor, long prunedBelow, long generation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A Redis master came back older (its mark went from {Before} to {After}); the changes it lost are decided by PostgreSQL until the relay writes them back")]
    private static partial void LogRewound(ILogger logger, long before, long after);
}
