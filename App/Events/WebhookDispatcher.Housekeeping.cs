using Npgsql;
using SessionGate.Data;

namespace SessionGate.Events;

// The dispatcher's upkeep, apart from sending: counting the backlog, dropping old events, and listening for commits.
public sealed partial class WebhookDispatcher
{
    private sealed record Count(long Waiting, DateTimeOffset? Oldest);

    // A large backlog makes the count slow: then it runs less often (at most 1 % of one backend per instance).
    private async Task CountAsync(DateTimeOffset now, CancellationToken ct)
    {
        _countedAt = now;
        var started = _time.GetTimestamp();
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var count = (await db.Database.SqlQuery<Count>($"""
            SELECT (SELECT count(*) FROM webhook_deliveries WHERE "Status" = 'pending')
                 + (SELECT count(*) FROM session_events WHERE "DispatchedAt" IS NULL) AS "Waiting",
                   LEAST((SELECT min("OccurredAt") FROM session_events WHERE "DispatchedAt" IS NULL),
                         (SELECT min(e."OccurredAt") FROM webhook_deliveries d JOIN webhook_endpoints w ON w."Id" = d."EndpointId" AND w."DisabledAt" IS NULL
                          JOIN session_events e ON e."Id" = d."EventRowId" WHERE d."Status" = 'pending')) AS "Oldest"
            """).ToListAsync(ct))[0];
        Interlocked.Exchange(ref _backlog, count.Waiting);
        Volatile.Write(ref _oldest, count.Oldest is { } oldest ? Math.Max(0, (now - oldest).TotalSeconds) : 0);
        var took = _time.GetElapsedTime(started);
        _countEvery = took * 100 > CountEvery ? took * 100 : CountEvery;
    }

    // Events (and with them their deliveries) go once they are older than RetainFor, in batches.
    private async Task CleanUpAsync(DateTimeOffset now, CancellationToken ct)
    {
        _cleanedAt = now;
        await using var db = await _dbs.CreateDbContextAsync(ct);
        var before = now - _options.RetainFor;
        int n;
        do
        {
            n = await db.Database.ExecuteSqlAsync($"""
                DELETE FROM session_events WHERE "Id" IN (SELECT "Id" FROM session_events WHERE "OccurredAt" < {before} AND "DispatchedAt" IS NOT NULL LIMIT 5000)
                """, ct);
        }
        while (n == 5000 && !ct.IsCancellationRequested);
    }

    // PostgreSQL tells every instance when events or deliveries commit; without the connection, polling still works.
    private async Task ListenAsync(CancellationToken ct)
    {
        var builder = new NpgsqlConnectionStringBuilder(_connectionString) { Pooling = false, KeepAlive = 15 };
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                connection.Notification += (_, _) => Wake();
                await connection.OpenAsync(ct);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection)) await listen.ExecuteNonQueryAsync(ct);
                Wake(); // anything committed while not listening
                while (!ct.IsCancellationRequested) await connection.WaitAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (DependencyHealth.IsTransient(e) || e is System.Net.Sockets.SocketException or IOException or ObjectDisposedException)
            {
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(2), _time, ct);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
