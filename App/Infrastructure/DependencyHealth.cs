using Npgsql;
using StackExchange.Redis;

namespace SessionGate.Infrastructure;

public enum Dependency { Redis, Postgres }

/// <summary>
/// Tracks outages of Redis and PostgreSQL as this instance sees them, so an outage is logged once when it starts and
/// once when it ends (with how many requests it cost), not once per request. Requests that fail for it answer 503.
/// </summary>
public sealed partial class DependencyHealth(ILogger<DependencyHealth> logger, TimeProvider time)
{
    /// <summary>What a 503 for a dependency outage tells the client to wait, in seconds.</summary>
    public const string RetryAfterSeconds = "5";

    /// <summary>
    /// How long after its last failure a dependency must keep succeeding before the outage is declared over. Some
    /// requests succeed in an outage without reaching the dependency (an L1 hit, a credential refused on its face);
    /// without this hold-down each of them would end the outage in the log and the next failure start another.
    /// </summary>
    public static readonly TimeSpan QuietBeforeBack = TimeSpan.FromSeconds(1);

    private sealed class Outage
    {
        public int Down;
        public long Failures;
        public DateTimeOffset Since;
        public long LastFailureTicks;
    }

    private readonly Outage[] _outages = [new(), new()];

    public static bool IsRedisFailure(Exception e) => e is RedisException or RedisTimeoutException;

    /// <summary>
    /// A failure of PostgreSQL or Redis that background work retries later (logging it once), not a bug: the drivers'
    /// own exceptions, a timeout, and EF Core's wrappers of them.
    /// </summary>
    public static bool IsTransient(Exception e) =>
        IsRedisFailure(e) || e is NpgsqlException or TimeoutException or DbUpdateException
        || (e is InvalidOperationException && e.InnerException is NpgsqlException);

    // EF Core wraps a failed connection in InvalidOperationException or DbUpdateException; the cause tells.
    public static bool IsPostgresFailure(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            if (x is NpgsqlException or System.Net.Sockets.SocketException) return true;
            if (x is TimeoutException && x.Source?.StartsWith("Npgsql", StringComparison.Ordinal) == true) return true;
        }
        return false;
    }

    public bool IsDown(Dependency dependency) => Volatile.Read(ref _outages[(int)dependency].Down) == 1;

    public void Failed(Dependency dependency, Exception e)
    {
        var outage = _outages[(int)dependency];
        Interlocked.Increment(ref outage.Failures);
        Interlocked.Exchange(ref outage.LastFailureTicks, time.GetUtcNow().UtcTicks);
        if (Interlocked.CompareExchange(ref outage.Down, 1, 0) != 0) return;
        outage.Since = time.GetUtcNow();
        LogDown(logger, dependency, e.GetType().Name);
    }

    public void Succeeded(Dependency dependency)
    {
        var outage = _outages[(int)dependency];
        if (Volatile.Read(ref outage.Down) == 0) return;
        if (time.GetUtcNow().UtcTicks - Interlocked.Read(ref outage.LastFailureTicks) < QuietBeforeBack.Ticks) return;
        if (Interlocked.Exchange(ref outage.Down, 0) == 0) return;
        var failures = Interlocked.Exchange(ref outage.Failures, 0);
        LogUp(logger, dependency, (time.GetUtcNow() - outage.Since).TotalSeconds, failures);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Dependency} is unavailable ({ExceptionType}); requests that need it answer 503 until it is back")]
    private static partial void LogDown(ILogger logger, Dependency dependency, string exceptionType);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Dependency} is back after {Seconds:F1} s; {Failures} requests failed meanwhile")]
    private static partial void LogUp(ILogger logger, Dependency dependency, double seconds, long failures);
}
