using SessionGate.Data;

namespace SessionGate.Audit;

/// <summary>How long audit events are kept (<c>Audit</c> section).</summary>
public sealed class AuditOptions
{
    /// <summary>Events older than this are deleted by the retention job (<c>dotnet App.dll audit-retention</c>); at least a day.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(365);

    public static IServiceCollection Register(IServiceCollection services)
    {
        services.AddOptions<AuditOptions>().BindConfiguration("Audit")
            .Validate(o => o.Retention >= TimeSpan.FromDays(1) && o.Retention <= TimeSpan.FromDays(36500), "Audit:Retention must be between 1 day and 100 years.")
            .ValidateOnStart();
        return services;
    }
}

/// <summary>
/// The audit retention job. It runs as its own process (<c>dotnet App.dll audit-retention</c>, from cron or a
/// scheduler; <c>scripts/run</c> runs it before every start) with the owner's connection, because the app's role
/// cannot delete audit events: whoever holds the app's credentials cannot erase what the log recorded.
/// </summary>
public static partial class AuditRetention
{
    private const int Batch = 10_000;

    /// <summary>Deletes the events older than <paramref name="retention"/>, oldest first, in batches (short transactions, few locks).</summary>
    public static async Task<long> RunAsync(string connection, TimeSpan retention, TimeProvider time, ILogger logger, CancellationToken ct)
    {
        var cutoff = time.GetUtcNow() - retention;
        long deleted = 0;
        await using var db = DatabaseSetup.Context(connection);
        while (true)
        {
            var n = await db.AuditEvents.Where(a => a.At < cutoff).OrderBy(a => a.Id).Take(Batch).ExecuteDeleteAsync(ct);
            deleted += n;
            if (n < Batch) break;
        }
        LogPruned(logger, deleted, cutoff);
        return deleted;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Audit retention: deleted {Count} events from before {Cutoff:O}")]
    private static partial void LogPruned(ILogger logger, long count, DateTimeOffset cutoff);
}
