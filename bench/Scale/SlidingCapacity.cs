using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace SessionGate.Bench.Scale;

/// <summary>
/// How many sliding-expiry rows PostgreSQL takes per second, written the two ways: the app's batched statement (one
/// <c>UPDATE … FROM unnest</c> per flush, the SQL of <c>SlidingWriter.FlushAsync</c>), or one UPDATE per due session
/// (the SQL the previous design's <c>ExecuteUpdateAsync</c> sent). Same table, same rows, same machine.
/// </summary>
public static class SlidingCapacity
{
    // SlidingWriter.FlushAsync, verbatim but for the parameter names.
    private const string BatchedSql = """
        UPDATE sessions AS s
        SET "LastSeenAt" = GREATEST(s."LastSeenAt", v.seen), "IdleExpiresAt" = GREATEST(s."IdleExpiresAt", v.idle)
        FROM unnest($1, $2, $3) AS v(id, seen, idle)
        WHERE s."Id" = v.id AND s."RevokedAt" IS NULL
        RETURNING s."Id" AS "Value"
        """;

    // What EF made of `db.Sessions.Where(x => x.Id == id && x.RevokedAt == null).ExecuteUpdateAsync(...)` before batching.
    private const string SingleSql = """
        UPDATE sessions AS s
        SET "IdleExpiresAt" = $1, "LastSeenAt" = $2
        WHERE s."Id" = $3 AND s."RevokedAt" IS NULL
        """;

    public static async Task<int> RunAsync(Args args)
    {
        var cs = SessionGate.Data.ConnectionOptions.Tune(args.Required("postgres"))!;
        var mode = args.Required("mode");
        if (mode is not ("batched" or "single")) throw new UsageException("--mode is batched or single");
        var seconds = args.Double("seconds", 10);
        var batch = args.Int("batch", 2500);
        var connections = args.Int("connections", mode == "batched" ? 1 : 8);
        var idle = args.Time("idle-timeout", TimeSpan.FromHours(2));

        Guid[] ids;
        string lsnBefore;
        await using (var connection = new NpgsqlConnection(cs))
        {
            await connection.OpenAsync();
            ids = await ReadIdsAsync(connection, args.Int("ids", 100_000));
            lsnBefore = await ScalarAsync(connection, "SELECT pg_current_wal_lsn()::text");
        }
        if (ids.Length == 0) throw new BenchException("no live sessions to slide");

        long next = 0;
        long rows = 0;
        long statements = 0;
        long backendTicks = 0;
        var deadline = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(seconds);
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            await using var connection = new NpgsqlConnection(cs);
            await connection.OpenAsync();
            // The backend serving this connection exits with it, taking its CPU time along: read it before closing.
            var backend = int.Parse(await ScalarAsync(connection, "SELECT pg_backend_pid()::text"), System.Globalization.CultureInfo.InvariantCulture);
            var ticksBefore = CpuTicks(backend);
            while (deadline.Elapsed < until)
            {
                var now = DateTimeOffset.UtcNow;
                if (mode == "batched")
                {
                    var start = Interlocked.Add(ref next, batch) - batch;
                    var slice = Enumerable.Range(0, batch).Select(i => ids[(start + i) % ids.Length]).Distinct().ToArray();
                    await using var cmd = new NpgsqlCommand(BatchedSql, connection);
                    cmd.Parameters.Add(new NpgsqlParameter { Value = slice, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
                    cmd.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Repeat(now, slice.Length).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                    cmd.Parameters.Add(new NpgsqlParameter { Value = Enumerable.Repeat(now + idle, slice.Length).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz });
                    var n = 0;
                    await using (var reader = await cmd.ExecuteReaderAsync())
                    {
                        while (await reader.ReadAsync()) n++;
                    }
                    Interlocked.Add(ref rows, n);
                }
                else
                {
                    var id = ids[Interlocked.Increment(ref next) % ids.Length];
                    await using var cmd = new NpgsqlCommand(SingleSql, connection);
                    cmd.Parameters.Add(new NpgsqlParameter { Value = now + idle, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                    cmd.Parameters.Add(new NpgsqlParameter { Value = now, NpgsqlDbType = NpgsqlDbType.TimestampTz });
                    cmd.Parameters.Add(new NpgsqlParameter { Value = id, NpgsqlDbType = NpgsqlDbType.Uuid });
                    Interlocked.Add(ref rows, await cmd.ExecuteNonQueryAsync());
                }
                Interlocked.Increment(ref statements);
            }
            Interlocked.Add(ref backendTicks, CpuTicks(backend) - ticksBefore);
        }));
        var elapsed = deadline.Elapsed.TotalSeconds;

        long wal;
        await using (var connection = new NpgsqlConnection(cs))
        {
            await connection.OpenAsync();
            wal = long.Parse(await ScalarAsync(connection, $"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsnBefore}')::bigint::text"),
                System.Globalization.CultureInfo.InvariantCulture);
        }
        Program.Emit("mode", mode);
        Program.Emit("connections", connections);
        Program.Emit("batch", mode == "batched" ? batch : 1);
        Program.Emit("seconds", Math.Round(elapsed, 2));
        Program.Emit("rows", rows);
        Program.Emit("statements", statements);
        Program.Emit("rows_per_s", Math.Round(rows / elapsed));
        Program.Emit("statements_per_s", Math.Round(statements / elapsed, 1));
        Program.Emit("wal_bytes_per_row", rows == 0 ? 0 : Math.Round((double)wal / rows));
        // Clock ticks are 1/100 s on Linux (USER_HZ); -1 when /proc could not be read (PostgreSQL on another host).
        Program.Emit("backend_cpu_s", backendTicks < 0 ? -1 : Math.Round(backendTicks / 100.0, 2));
        Program.Emit("backend_cpu_ms_per_1000_rows", backendTicks < 0 || rows == 0 ? -1 : Math.Round(backendTicks * 10.0 / rows * 1000, 1));
        return 0;
    }

    /// <summary>utime + stime of a local process, in clock ticks; a large negative number when it cannot be read.</summary>
    private static long CpuTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return -1_000_000_000;
        }
    }

    private static async Task<Guid[]> ReadIdsAsync(NpgsqlConnection connection, int count)
    {
        await using var cmd = new NpgsqlCommand("""SELECT "Id" FROM sessions WHERE "RevokedAt" IS NULL ORDER BY random() LIMIT $1""", connection);
        cmd.Parameters.Add(new NpgsqlParameter { Value = count, NpgsqlDbType = NpgsqlDbType.Integer });
        var ids = new List<Guid>(count);
        await using var reader = await cmd.ExecuteReaderAsync();
        while (await reader.ReadAsync()) ids.Add(reader.GetGuid(0));
        return [.. ids];
    }

    private static async Task<string> ScalarAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        return (string)(await cmd.ExecuteScalarAsync())!;
    }
}
