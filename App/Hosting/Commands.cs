using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Hosting;

/// <summary>
/// One-off jobs instead of the server: <c>dotnet App.dll &lt;command&gt;...</c> runs each command in turn and exits
/// (non-zero at the first failure). They read the same configuration as the app.
/// <list type="bullet">
/// <item><c>migrate</c>: applies the migrations as <c>ConnectionStrings:PostgresOwner</c> and grants the app's role
/// (the user of <c>ConnectionStrings:Postgres</c>) what it needs; see <see cref="DatabaseSetup"/>.</item>
/// <item><c>audit-retention</c>: deletes audit events older than <c>Audit:Retention</c>, as the owner.</item>
/// <item><c>rotate-session-id-key</c>: adds the next session-id/refresh-token MAC key (as <c>POST /admin/keys/session-id/rotate</c> does).</item>
/// </list>
/// Without <c>ConnectionStrings:PostgresOwner</c>, the owner is the app's own role.
/// </summary>
public static partial class Commands
{
    private static readonly string[] Names = ["migrate", "audit-retention", "rotate-session-id-key"];

    /// <summary>True when the arguments name commands (the host's own arguments all start with a dash).</summary>
    public static bool Requested(string[] args) => args.Length > 0 && !args[0].StartsWith('-');

    public static async Task<int> RunCommandsAsync(this WebApplication app, string[] args)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("SessionGate.Commands");
        var commands = args.TakeWhile(a => !a.StartsWith('-')).ToList();
        // Usage errors go to stderr, as a command line tool's do; the jobs themselves log.
        if (commands.FirstOrDefault(c => !Names.Contains(c)) is { } unknown)
        {
            await Console.Error.WriteLineAsync($"Unknown command {LogText.Safe(unknown)}; the commands are: {string.Join(", ", Names)}");
            return 2;
        }
        var config = app.Configuration;
        var appConnection = ConnectionOptions.Tune(config.GetConnectionString("Postgres"));
        if (string.IsNullOrWhiteSpace(appConnection))
        {
            await Console.Error.WriteLineAsync("ConnectionStrings:Postgres is required");
            return 2;
        }
        var owner = config.GetConnectionString("PostgresOwner") is { Length: > 0 } o ? o : appConnection;
        var ct = app.Lifetime.ApplicationStopping;
        foreach (var command in commands)
        {
            switch (command)
            {
                case "migrate":
                    Initialization.EnsureMigrationsAssembly();
                    await DatabaseSetup.MigrateAsync(owner, appConnection, logger, ct);
                    break;
                case "audit-retention":
                    var retention = app.Services.GetRequiredService<IOptions<AuditOptions>>().Value.Retention;
                    await AuditRetention.RunAsync(owner, retention, app.Services.GetRequiredService<TimeProvider>(), logger, ct);
                    break;
                case "rotate-session-id-key":
                    await RotateSessionIdKeyAsync(app, logger, ct);
                    break;
            }
        }
        return 0;
    }

    private static async Task RotateSessionIdKeyAsync(WebApplication app, ILogger logger, CancellationToken ct)
    {
        using var scope = app.Services.CreateScope();
        var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
        var secrets = scope.ServiceProvider.GetRequiredService<SessionSecrets>();
        await secrets.InitializeAsync(db, scope.ServiceProvider.GetRequiredService<TimeProvider>(), ct);
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var key = await secrets.RotateAsync(db, ct);
        scope.ServiceProvider.GetRequiredService<AuditLog>().Add(AuditTypes.SessionIdKeyRotated, null, null, null, null, new { key_id = key.Id, active_from = key.ActiveFrom, via = "command" });
        await db.SaveChangesAsync(ct);
        await tx.CommitAsync(ct);
        LogRotated(logger, key.Id, key.ActiveFrom);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Session-id key {KeyId} added; it signs new ids from {ActiveFrom:O}")]
    private static partial void LogRotated(ILogger logger, int keyId, DateTimeOffset activeFrom);
}
