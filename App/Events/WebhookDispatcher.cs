using System.Diagnostics.Metrics;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Observability;

namespace SessionGate.Events;

/// <summary>
/// Runs on every instance. Woken by PostgreSQL when events or deliveries are committed (a <c>NOTIFY</c> that fires only
/// at commit, so nothing is sent for a change that rolled back), and every <see cref="WebhookOptions.PollInterval"/>
/// besides, it:
/// <list type="number">
/// <item>turns new events into deliveries (<see cref="EventFanout"/>, one instance at a time);</item>
/// <item>claims due deliveries (<c>FOR UPDATE SKIP LOCKED</c> and a lease, so instances share the work and do not send
/// one twice in the normal case; a lease that runs out, because its instance died, is taken over: at least once), only
/// the oldest pending one of each user per endpoint, so a user's events arrive in order;</item>
/// <item>sends them (<see cref="WebhookSender"/>), and records what happened: a failure waits out the next step of
/// <see cref="WebhookOptions.RetrySchedule"/>; after the last, the delivery has failed, and an endpoint that has not
/// succeeded once since that delivery's first attempt is disabled (audited; re-enable through the admin API). A
/// success after failures brings the endpoint's waiting deliveries forward.</item>
/// </list>
/// Requests never wait for any of it: they only insert event rows.
/// </summary>
public sealed partial class WebhookDispatcher : BackgroundService
{
    public const string Channel = "sessiongate_events";
    private static readonly TimeSpan CleanUpEvery = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan CountEvery = TimeSpan.FromSeconds(5);

    private readonly IDbContextFactory<AppDbContext> _dbs;
    private readonly WebhookSender _sender;
    private readonly WebhookOptions _options;
    private readonly TimeSpan[] _schedule;
    private readonly string _connectionString;
    private readonly SessionGateMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<WebhookDispatcher> _logger;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly OutageLog _outage;
    private DateTimeOffset _cleanedAt;
    private DateTimeOffset _countedAt;
    private TimeSpan _countEvery = CountEvery;
    private long _backlog;
    private double _oldest;

    public WebhookDispatcher(IDbContextFactory<AppDbContext> dbs, WebhookSender sender, IOptions<WebhookOptions> options, IOptions<ConnectionOptions> connection,
        SessionGateMetrics metrics, TimeProvider time, ILogger<WebhookDispatcher> logger)
    {
        _dbs = dbs;
        _sender = sender;
        _options = options.Value;
        _schedule = options.Value.Schedule ?? [TimeSpan.FromSeconds(5)];
        _connectionString = connection.Value.Postgres!;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _outage = new OutageLog(logger, "Webhook dispatcher", "it cannot reach PostgreSQL; retrying");
        _cleanedAt = time.GetUtcNow();
        metrics.Meter.CreateObservableGauge("sessiongate.webhooks.backlog", () => Interlocked.Read(ref _backlog), "{delivery}",
            "Deliveries not yet made (pending, retrying, or waiting for a disabled endpoint) plus events not yet dispatched (counted every 5 s).");
        metrics.Meter.CreateObservableGauge("sessiongate.webhooks.backlog_age", () => Volatile.Read(ref _oldest), "s",
            "Age of the oldest event not yet delivered to an enabled endpoint.");
    }

    /// <summary>Deliveries and events waiting, as last counted.</summary>
    public long Backlog => Interlocked.Read(ref _backlog);

    /// <summary>Wakes the loop now (an admin retry, say); PostgreSQL's notification does it for committed events.</summary>
    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _ = Task.Run(() => ListenAsync(stoppingToken), stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            await _outage.RoundAsync(async () => busy = await RunOnceAsync(stoppingToken), DependencyHealth.IsTransient, stoppingToken);
            if (busy) continue;
            try
            {
                await _wake.WaitAsync(_options.PollInterval, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One round: dispatch new events, send what is due, now and then count and clean. True if there was work.</summary>
    public async Task<bool> RunOnceAsync(CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        int dispatched;
        await using (var db = await _dbs.CreateDbContextAsync(ct))
        {
            dispatched = await EventFanout.RunOnceAsync(db, now, ct);
        }
        var sent = await SendDueAsync(ct);
        if (now - _countedAt >= _countEvery) await CountAsync(now, ct);
        if (now - _cleanedAt >= CleanUpEvery) await CleanUpAsync(now, ct);
        return dispatched > 0 || sent > 0;
    }

    private sealed record Claimed(long Id, Guid EndpointId, int Attempts, DateTimeOffset FirstAttemptAt, DateTimeOffset LastAttemptAt, Guid EventId, string Type, Guid UserId,
        Guid? SessionId, string? Reason, string? Detail, DateTimeOffset OccurredAt, string Tenant);

    private async Task<int> SendDueAsync(CancellationToken ct)
    {
        List<Claimed> claimed;
        Dictionary<Guid, OutgoingEndpoint> endpoints;
        await using (var db = await _dbs.CreateDbContextAsync(ct))
        {
            var now = _time.GetUtcNow();
            // Long enough for the attempt and its record; an instance that died mid-attempt gives it up after this.
            var lease = now + _options.AttemptTimeout * 2 + TimeSpan.FromSeconds(5);
            var limit = Math.Max(1, _options.MaxConcurrency);
            // The head of each (endpoint, user) queue only, so a user's deliveries go one at a time, in order.
            var ids = await db.Database.SqlQuery<long>($"""
                WITH due AS (
                    SELECT d."Id" FROM webhook_deliveries d
                    JOIN webhook_endpoints w ON w."Id" = d."EndpointId" AND w."DisabledAt" IS NULL
                    WHERE d."Status" = 'pending' AND d."NextAttemptAt" <= {now} AND (d."LeaseUntil" IS NULL OR d."LeaseUntil" < {now})
                      AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                                      WHERE p."EndpointId" = d."EndpointId" AND p."UserId" = d."UserId" AND p."Status" = 'pending'
                                        AND (p."Seq", p."Id") < (d."Seq", d."Id"))
                    ORDER BY d."NextAttemptAt", d."Id" LIMIT {limit}
                    FOR UPDATE OF d SKIP LOCKED)
                UPDATE webhook_deliveries d SET "LeaseUntil" = {lease}, "Attempts" = d."Attempts" + 1,
                       "FirstAttemptAt" = COALESCE(d."FirstAttemptAt", {now}), "LastAttemptAt" = {now}
                FROM due WHERE d."Id" = due."Id"
                RETURNING d."Id" AS "Value"
                """).ToListAsync(ct);
            if (ids.Count == 0) return 0;
            var idArray = ids.ToArray();
            claimed = await db.Database.SqlQuery<Claimed>($"""
                SELECT d."Id", d."EndpointId", d."Attempts", d."FirstAttemptAt", d."LastAttemptAt", e."EventId", e."Type", e."UserId", e."SessionId", e."Reason", e."Detail",
                       e."OccurredAt", t."Slug" AS "Tenant"
                FROM webhook_deliveries d JOIN session_events e ON e."Id" = d."EventRowId" JOIN tenants t ON t."Id" = e."TenantId"
                WHERE d."Id" = ANY({idArray}) ORDER BY d."Id"
                """).ToListAsync(ct);
            var endpointIds = claimed.Select(c => c.EndpointId).Distinct().ToList();
            endpoints = await db.Set<WebhookEndpoint>().AsNoTracking().Where(w => endpointIds.Contains(w.Id))
                .ToDictionaryAsync(w => w.Id, w => new OutgoingEndpoint(w.Id, w.Url, w.Format, w.ProtectedSecret, w.PreviousProtectedSecret, w.PreviousSecretUntil), ct);
        }

        await Task.WhenAll(claimed.Where(c => endpoints.ContainsKey(c.EndpointId)).Select(async c =>
        {
            var endpoint = endpoints[c.EndpointId];
            var outcome = await _sender.SendAsync(endpoint, new OutgoingEvent(c.EventId, c.Type, c.Tenant, c.UserId, c.SessionId, c.Reason, c.Detail, c.OccurredAt), ct);
            await RecordAsync(c, endpoint, outcome, ct);
        }));
        return claimed.Count;
    }

    private async Task RecordAsync(Claimed c, OutgoingEndpoint endpoint, AttemptOutcome outcome, CancellationToken ct)
    {
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var now = _time.GetUtcNow();
        var error = outcome.Error is { Length: > 200 } e ? e[..200] : outcome.Error;
        if (outcome.Succeeded)
        {
            _metrics.WebhookAttempt(endpoint.Format, "sent", outcome.Duration, now - c.OccurredAt);
            await db.Database.ExecuteSqlAsync($"""
                UPDATE webhook_deliveries SET "Status" = 'succeeded', "DeliveredAt" = {now}, "LeaseUntil" = NULL, "LastStatusCode" = {outcome.StatusCode},
                       "LastError" = NULL, "ResponseExcerpt" = {outcome.Excerpt}
                WHERE "Id" = {c.Id}
                """, ct);
            // The endpoint is back: what waits for it need not wait out its backoff.
            var recovered = await db.Database.ExecuteSqlAsync(
                $"""UPDATE webhook_endpoints SET "FailingSince" = NULL WHERE "Id" = {endpoint.Id} AND "FailingSince" IS NOT NULL""", ct);
            if (recovered > 0)
            {
                await db.Database.ExecuteSqlAsync($"""
                    UPDATE webhook_deliveries SET "NextAttemptAt" = {now}
                    WHERE "EndpointId" = {endpoint.Id} AND "Status" = 'pending' AND "NextAttemptAt" > {now}
                    """, ct);
                Wake();
            }
            return;
        }

        var retry = c.Attempts <= _schedule.Length;
        _metrics.WebhookAttempt(endpoint.Format, retry ? "retried" : "failed", outcome.Duration, null);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var failingSince = (await db.Database.SqlQuery<DateTimeOffset>($"""
            UPDATE webhook_endpoints SET "FailingSince" = COALESCE("FailingSince", {c.LastAttemptAt}) WHERE "Id" = {endpoint.Id} RETURNING "FailingSince" AS "Value"
            """).ToListAsync(ct)).FirstOrDefault();
        if (retry)
        {
            var wait = _schedule[c.Attempts - 1] * (1 + Random.Shared.NextDouble() * 0.1);
            await db.Database.ExecuteSqlAsync($"""
                UPDATE webhook_deliveries SET "NextAttemptAt" = {now + wait}, "LeaseUntil" = NULL, "LastStatusCode" = {outcome.StatusCode},
                       "LastError" = {error}, "ResponseExcerpt" = {outcome.Excerpt}
                WHERE "Id" = {c.Id}
                """, ct);
        }
        else
        {
            await db.Database.ExecuteSqlAsync($"""
                UPDATE webhook_deliveries SET "Status" = 'failed', "LeaseUntil" = NULL, "LastStatusCode" = {outcome.StatusCode},
                       "LastError" = {error}, "ResponseExcerpt" = {outcome.Excerpt}
                WHERE "Id" = {c.Id}
                """, ct);
            // Kept failing: not one success since this delivery's first attempt, through its whole schedule.
            if (failingSince != default && failingSince <= c.FirstAttemptAt)
            {
                var tenant = await db.Database.SqlQuery<Guid>($"""
                    UPDATE webhook_endpoints SET "DisabledAt" = {now}, "DisabledReason" = {"every attempt failed for " + FormatSpan(now - c.FirstAttemptAt) + "; last: " + error}
                    WHERE "Id" = {endpoint.Id} AND "DisabledAt" IS NULL RETURNING "TenantId" AS "Value"
                    """).ToListAsync(ct);
                if (tenant.Count == 1)
                {
                    new AuditLog(db, _time, new AuditContext()).Add(WebhookAuditTypes.Disabled, null, null, tenant[0], null,
                        new { webhook_id = endpoint.Id, delivery_id = c.Id, last_error = error });
                    await db.SaveChangesAsync(ct);
                    LogDisabled(_logger, endpoint.Id);
                }
            }
        }
        await tx.CommitAsync(ct);
    }

    private static string FormatSpan(TimeSpan span) =>
        span >= TimeSpan.FromHours(1) ? $"{span.TotalHours:0.#} h" : span >= TimeSpan.FromMinutes(1) ? $"{span.TotalMinutes:0.#} min" : $"{span.TotalSeconds:0.#} s";

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Webhook endpoint {EndpointId} disabled: it kept failing through a whole retry schedule")]
    private static partial void LogDisabled(ILogger logger, Guid endpointId);
}
