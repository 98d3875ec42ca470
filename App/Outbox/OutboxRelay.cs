using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Sessions;
using SessionGate.Tokens;
using StackExchange.Redis;

namespace SessionGate.Outbox;

/// <summary>
/// Runs on every instance, every <see cref="RevocationOptions.RelayInterval"/>:
/// <list type="number">
/// <item>it refreshes this instance's <see cref="RedisProof"/> (the masters' marks, and the outbox rows above them);</item>
/// <item>on the one instance that holds the writer's lease, it applies every row between the lowest mark and the
/// transaction horizon again, collapsed, in chunks it can resume from (the marks are the cursor), then checks that the
/// masters are the very processes that acknowledged those writes, and only then moves each master's mark; a row no
/// attempt can apply is set aside, reported, and held against Redis by every instance;</item>
/// <item>it keeps the outbox bounded, recording how far back it still reaches.</item>
/// </list>
/// </summary>
public sealed partial class OutboxRelay : BackgroundService
{
    private const int Chunk = 2_000;
    private const string MalformedPayload = RevocationPipeline.MalformedPayload;
    private static readonly TimeSpan CleanUpEvery = TimeSpan.FromMinutes(1);

    private readonly RevocationPipeline _pipeline;
    private readonly RedisProof _proof;
    private readonly RedisMarks _marks;
    private readonly RedisStore _store;
    private readonly IDbContextFactory<AppDbContext> _dbs;
    private readonly RevocationOptions _options;
    private readonly string _prefix;
    private readonly TimeSpan _abandonAfter;
    private readonly TimeProvider _time;
    private readonly ILogger<OutboxRelay> _logger;
    private readonly DependencyHealth _health;
    private readonly OutageLog _outage;
    private readonly string _instance = Guid.NewGuid().ToString("N")[..16];
    private DateTimeOffset _cleanedAt;
    private bool _stalled;
    private long _reapplied;
    private long _setAside;

    public OutboxRelay(RevocationPipeline pipeline, RedisProof proof, RedisMarks marks, RedisStore store, IDbContextFactory<AppDbContext> dbs,
        IConnectionMultiplexer redis, IOptions<RevocationOptions> options, IOptions<RedisOptions> redisOptions, IOptions<SessionLifetimeOptions> sessions,
        IOptions<JwtOptions> jwt, TimeProvider time, ILogger<OutboxRelay> logger, DependencyHealth health)
    {
        _pipeline = pipeline;
        _proof = proof;
        _marks = marks;
        _store = store;
        _dbs = dbs;
        _options = options.Value;
        _prefix = redisOptions.Value.KeyPrefix;
        _time = time;
        _logger = logger;
        _outage = new OutageLog(logger, "Outbox relay", "it cannot reach PostgreSQL or Redis; retrying");
        _health = health;
        // Past this no credential a row concerns can be alive, so a row still unapplied (or set aside) is moot.
        _abandonAfter = sessions.Value.AbsoluteTimeout + jwt.Value.AccessTokenLifetime + TimeSpan.FromHours(1);
        // A master whose connection broke may come back older (a restart from a snapshot, a promoted replica): its
        // answers count again only once its mark is read after the reconnect, which is looked at at once.
        redis.ConnectionFailed += (_, e) =>
        {
            // A connection that broke (not a reconnect that failed again: the multiplexer keeps retrying a master that
            // died, and each failed try would otherwise keep the proof down long after its replica took over).
            if (e.ConnectionType != ConnectionType.Subscription && e.FailureType != ConnectionFailureType.UnableToConnect
                && !IsReplica(redis, e.EndPoint))
                _proof.ConnectionLost();
        };
        redis.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType != ConnectionType.Subscription) _ = Task.Run(() => _proof.RefreshAsync(CancellationToken.None));
        };
    }

    private static bool IsReplica(IConnectionMultiplexer redis, System.Net.EndPoint? endpoint)
    {
        try
        {
            return endpoint is not null && redis.GetServer(endpoint).IsReplica;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Rows applied again by this instance as the writer (metrics).</summary>
    public long Reapplied => Interlocked.Read(ref _reapplied);

    /// <summary>Rows this instance set aside (metrics).</summary>
    public long SetAsideCount => Interlocked.Read(ref _setAside);

    /// <summary>Rows committed but not yet proven in Redis, and the age of the oldest (metrics).</summary>
    public (long Count, TimeSpan OldestAge) Backlog => _proof.Backlog;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.RelayInterval, _time);
        do
        {
            await _outage.RoundAsync(async () =>
            {
                await RunOnceAsync(stoppingToken);
                // Every tick queries PostgreSQL, and requests never report its success: this is where an outage
                // that requests met is seen to end (logged once, with its count), so the next one is logged too.
                _health.Succeeded(Dependency.Postgres);
            }, DependencyHealth.IsTransient, stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    public async Task RunOnceAsync(CancellationToken ct)
    {
        await _proof.RefreshAsync(ct);
        if (_proof.Trust != RedisTrust.Proven || !await TryLeaseAsync(ct)) return;
        await WriteMarksAsync(ct);
        if (_time.GetUtcNow() - _cleanedAt >= CleanUpEvery) await CleanUpAsync(ct);
    }

    // One writer at a time (the others would only repeat its work); another takes over when its lease runs out.
    private async Task<bool> TryLeaseAsync(CancellationToken ct)
    {
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var now = _time.GetUtcNow();
        var lease = _options.RelayInterval * 5 > TimeSpan.FromSeconds(5) ? _options.RelayInterval * 5 : TimeSpan.FromSeconds(5);
        return await db.Database.ExecuteSqlAsync($"""
            UPDATE redis_keyspaces SET "Writer" = {_instance}, "WriterUntil" = {now + lease}
            WHERE "Prefix" = {_prefix} AND "Generation" = {_store.Generation} AND ("Writer" = {_instance} OR "WriterUntil" < {now})
            """, ct) == 1;
    }

    private async Task WriteMarksAsync(CancellationToken ct)
    {
        if (_proof.Keyspace is not { } keyspace || _proof.Masters is not { } masters || keyspace.Generation != _store.Generation) return;
        var expected = masters.ToDictionary(m => m.EndPoint.ToString()!, m => m.RawMark);
        var identities = masters.ToDictionary(m => m.EndPoint.ToString()!, m => m.Identity);
        var floor = _proof.Floor;
        var started = _time.GetTimestamp();
        while (true)
        {
            await using var db = await _dbs.CreateDbContextAsync(ct);
            var horizon = await RedisProof.CurrentHorizonAsync(db, ct);
            var rows = await db.Outbox.AsNoTracking().Where(o => o.TxId >= floor && o.TxId < horizon && o.SetAsideAt == null)
                .OrderBy(o => o.TxId).ThenBy(o => o.Id).Take(Chunk + 1).ToListAsync(ct);
            var upTo = horizon;
            if (rows.Count > Chunk)
            {
                // A chunk ends between two transactions, so the mark never splits one.
                upTo = rows[Chunk].TxId;
                rows = rows.Where(r => r.TxId < upTo).ToList();
                if (rows.Count == 0)
                {
                    rows = await db.Outbox.AsNoTracking().Where(o => o.TxId == upTo && o.SetAsideAt == null).ToListAsync(ct);
                    upTo++;
                }
            }
            var result = await _pipeline.ReapplyAsync(rows, ct);
            if (result.Failed.Count > 0 && !await SetAsideAsync(db, rows, result.Failed, ct)) return;
            if (!result.Complete)
            {
                if (!_stalled) LogStalled(_logger, rows.Count);
                _stalled = true;
                return;
            }
            _stalled = false;

            // The writes above count only if the masters that acknowledged them are still the same processes, with
            // the same history and the same slots: otherwise a master may have lost them, and its mark stays.
            var now = await _marks.ReadAsync();
            if (now.Count != identities.Count || now.Any(m => identities.GetValueOrDefault(m.EndPoint.ToString()!) != m.Identity))
            {
                LogMastersChanged(_logger);
                return;
            }
            var mark = new NodeMark(keyspace.Generation, upTo);
            foreach (var master in now)
            {
                var endpoint = master.EndPoint.ToString()!;
                if (!await _marks.AdvanceAsync(master, expected[endpoint], mark)) return; // written by another, or older now
                expected[endpoint] = mark.Encode();
            }
            if (rows.Count > 0)
            {
                var at = _time.GetUtcNow();
                await db.Outbox.Where(o => o.TxId >= floor && o.TxId < upTo && o.AppliedAt == null).ExecuteUpdateAsync(u => u.SetProperty(o => o.AppliedAt, at), ct);
                Interlocked.Add(ref _reapplied, rows.Count);
            }
            floor = upTo;
            if (upTo == horizon || _time.GetElapsedTime(started) >= _options.RelayInterval) return;
        }
    }

    // A row whose payload cannot be read is set aside at once; one that fails three ticks running for a reason of its
    // own (not an outage: a master failing over, Redis refusing writes, PostgreSQL down) is set aside then, so it cannot
    // hold every later row back. Each instance keeps it pending. False while a failing row is not set aside: the marks
    // wait for it.
    private async Task<bool> SetAsideAsync(AppDbContext db, List<OutboxMessage> rows, IReadOnlyList<RevocationPipeline.Failure> failed, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        var allSetAside = true;
        foreach (var failure in failed.DistinctBy(f => f.Id))
        {
            var attempts = (rows.FirstOrDefault(r => r.Id == failure.Id)?.Attempts ?? 0) + 1;
            var setAside = failure.Error == MalformedPayload || (!failure.Outage && attempts >= 3);
            await db.Outbox.Where(o => o.Id == failure.Id).ExecuteUpdateAsync(u => u
                .SetProperty(o => o.SetAsideAt, o => setAside ? now : o.SetAsideAt).SetProperty(o => o.Attempts, attempts).SetProperty(o => o.LastError, failure.Error), ct);
            if (!setAside)
            {
                allSetAside = false;
                continue;
            }
            Interlocked.Increment(ref _setAside);
            LogSetAside(_logger, failure.Id, rows.FirstOrDefault(r => r.Id == failure.Id)?.Kind ?? "?", failure.Error);
        }
        return allSetAside;
    }

    // Rows below every master's mark and past the retention go, and rows too old to matter go whatever happened to
    // them; PostgreSQL records how far back the outbox still reaches, so a mark older than that is known unprovable.
    private async Task CleanUpAsync(CancellationToken ct)
    {
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var now = _time.GetUtcNow();
        var retained = now - _options.OutboxRetention;
        var abandoned = now - _abandonAfter;
        await db.Database.ExecuteSqlAsync($"""
            WITH gone AS (
                DELETE FROM outbox WHERE ("TxId" < {_proof.Floor} AND "CreatedAt" < {retained} AND "SetAsideAt" IS NULL) OR "CreatedAt" < {abandoned}
                RETURNING "TxId")
            UPDATE redis_keyspaces SET "PrunedBelow" = GREATEST("PrunedBelow", (SELECT max("TxId") + 1 FROM gone))
            WHERE "Prefix" = {_prefix} AND EXISTS (SELECT 1 FROM gone)
            """, ct);
        _cleanedAt = now;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis refuses the relay's writes ({Rows} rows waiting); every instance holds Redis's answers against them meanwhile")]
    private static partial void LogStalled(ILogger logger, int rows);

    [LoggerMessage(Level = LogLevel.Information, Message = "A Redis master changed (restart, promotion or slot move) while the relay wrote; its mark stays until the next tick")]
    private static partial void LogMastersChanged(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "Outbox row {Id} ({Kind}) set aside: applying it failed ({Error}); its users are decided by PostgreSQL until it no longer matters")]
    private static partial void LogSetAside(ILogger logger, long id, string kind, string error);
}
