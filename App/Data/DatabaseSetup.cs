using Npgsql;

namespace SessionGate.Data;

/// <summary>
/// Least privilege in PostgreSQL. The schema belongs to an owner role, which migrates it; the app runs as another
/// role that may read and write rows but not change the schema, and may only <c>INSERT</c> and <c>SELECT</c> the audit
/// log, so nothing that speaks for the app (a bug, an injected statement, a stolen connection string) can change or
/// delete what the log recorded. Retention deletes old events as the owner, in its own job (<see cref="Audit.AuditRetention"/>).
/// </summary>
public static partial class DatabaseSetup
{
    /// <summary>
    /// Applies the migrations as <paramref name="ownerConnection"/>'s role, then grants the app's role (the user of
    /// <paramref name="appConnection"/>) what it needs, and no more. With one role for both (no owner configured),
    /// only migrates: that role owns the tables, and so can also change the audit log (start-up warns).
    /// </summary>
    public static async Task MigrateAsync(string ownerConnection, string appConnection, ILogger logger, CancellationToken ct)
    {
        await using (var db = Context(ownerConnection)) await db.Database.MigrateAsync(ct);
        var owner = new NpgsqlConnectionStringBuilder(ownerConnection).Username;
        var app = new NpgsqlConnectionStringBuilder(appConnection).Username;
        if (string.IsNullOrEmpty(app) || string.Equals(owner, app, StringComparison.Ordinal))
        {
            LogSingleRole(logger);
            return;
        }
        await GrantAsync(ownerConnection, app, ct);
        LogGranted(logger, app);
    }

    /// <summary>
    /// What the app's role may do, granted by the owner (idempotent, so it runs after every migration and covers the
    /// tables a later migration adds): rows of every table, except the audit log (insert and read only) and the
    /// migrations history (read only).
    /// </summary>
    public static async Task GrantAsync(string ownerConnection, string appRole, CancellationToken ct)
    {
        var role = "\"" + appRole.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        await using var connection = new NpgsqlConnection(ownerConnection);
        await connection.OpenAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        foreach (var sql in (string[])[
            $"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
            $"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON audit_events FROM {role}",
            $"REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON \"__EFMigrationsHistory\" FROM {role}",
            $"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        ])
        {
            await using var command = new NpgsqlCommand(sql, connection, tx);
            await command.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    /// <summary>Whether the role of <paramref name="appConnection"/> could change or delete audit events (it owns the table, or was granted it).</summary>
    public static async Task<bool> AppRoleMayRewriteAuditAsync(string appConnection, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(appConnection);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(
            "SELECT has_table_privilege('audit_events', 'UPDATE') OR has_table_privilege('audit_events', 'DELETE') OR has_table_privilege('audit_events', 'TRUNCATE')",
            connection);
        return await command.ExecuteScalarAsync(ct) is true;
    }

    internal static AppDbContext Context(string connection) =>
        new(new DbContextOptionsBuilder<AppDbContext>().UseNpgsql(connection, o => o.MigrationsAssembly(AppDbContext.MigrationsAssembly)).Options);

    [LoggerMessage(Level = LogLevel.Information, Message = "Migrated; the app's role {Role} may read and write rows, and only insert and read audit events")]
    private static partial void LogGranted(ILogger logger, string role);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Migrated as the app's own role (no ConnectionStrings:PostgresOwner): it owns the tables, so it can also change or delete audit events. docs/DEPLOYMENT.md splits the roles")]
    private static partial void LogSingleRole(ILogger logger);
}
