using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Data;

/// <summary>
/// Least privilege in PostgreSQL, as scripts/run and the fixtures set it up: the app's role reads and writes rows but
/// may only append to the audit log, creates no database and no table; retention deletes as the owner, in its own job.
/// Every fixture's app runs as that role, so the whole suite also proves it is enough. Mode-independent.
/// </summary>
public sealed class DatabaseRoleTests(AppFixture<Opaque> fx) : IClassFixture<AppFixture<Opaque>>
{
    private static async Task<int> ExecuteAsync(string connection, string sql, params (string Name, object Value)[] parameters)
    {
        await using var conn = new NpgsqlConnection(connection);
        await conn.OpenAsync();
        await using var command = new NpgsqlCommand(sql, conn);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        return await command.ExecuteNonQueryAsync();
    }

    private static async Task<object?> ScalarAsync(string connection, string sql)
    {
        await using var conn = new NpgsqlConnection(connection);
        await conn.OpenAsync();
        await using var command = new NpgsqlCommand(sql, conn);
        return await command.ExecuteScalarAsync();
    }

    private static async Task AssertRefusedAsync(string connection, string sql)
    {
        var e = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, sql));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, e.SqlState);
    }

    [Fact]
    public async Task The_apps_role_may_append_to_and_read_the_audit_log_but_never_change_or_delete_a_row()
    {
        await fx.Api.LoginRawAsync(new { tenant = "acme", username = "bob", password = "wrong-password-123" });
        var app = TestEnvironment.ConnectionFor(fx.Database);
        Assert.NotEqual(new NpgsqlConnectionStringBuilder(TestEnvironment.Admin).Username, new NpgsqlConnectionStringBuilder(app).Username);

        var before = (long)(await ScalarAsync(app, "SELECT count(*) FROM audit_events"))!;
        Assert.True(before > 0, "the app wrote audit events as this role");
        Assert.Equal(1, await ExecuteAsync(app, """INSERT INTO audit_events ("Type", "At") VALUES ('test.appended', now())"""));
        await AssertRefusedAsync(app, """UPDATE audit_events SET "Type" = 'rewritten'""");
        await AssertRefusedAsync(app, "DELETE FROM audit_events");
        await AssertRefusedAsync(app, "TRUNCATE audit_events");
        await AssertRefusedAsync(app, "ALTER TABLE audit_events DISABLE TRIGGER ALL");
        Assert.Equal(before + 1, (long)(await ScalarAsync(app, "SELECT count(*) FROM audit_events"))!);
        Assert.Equal(0L, (long)(await ScalarAsync(app, "SELECT count(*) FROM audit_events WHERE \"Type\" = 'rewritten'"))!);

        // The rows the app owns day to day stay writable; the migrations' history and the schema do not.
        Assert.True(await ExecuteAsync(app, """UPDATE sessions SET "LastSeenAt" = "LastSeenAt" """) >= 0);
        await AssertRefusedAsync(app, """DELETE FROM "__EFMigrationsHistory" """);
        await AssertRefusedAsync(app, "CREATE TABLE planted (id int)");
        Assert.False(await DatabaseSetup.AppRoleMayRewriteAuditAsync(app, default));
        Assert.DoesNotContain("may change or delete audit events", fx.Logs.All);
    }

    [Fact]
    public async Task The_apps_role_creates_no_database()
    {
        var app = TestEnvironment.ConnectionFor(fx.Database);
        Assert.Equal(false, await ScalarAsync(app, "SELECT rolcreatedb OR rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"));
        await AssertRefusedAsync(app, "CREATE DATABASE sg_planted");
    }

    [Fact]
    public async Task Retention_deletes_old_events_as_the_owner_and_the_apps_role_cannot_run_it()
    {
        var owner = TestEnvironment.AdminConnectionFor(fx.Database);
        var marker = "test.retention-" + Guid.NewGuid().ToString("N")[..8];
        await ExecuteAsync(owner, """INSERT INTO audit_events ("Type", "At") VALUES (@t, now() - interval '400 days'), (@t, now() - interval '400 days'), (@t, now() - interval '10 days')""",
            ("t", marker));

        const string recent = "SELECT count(*) FROM audit_events WHERE \"At\" > now() - interval '1 day'";
        var recentBefore = (long)(await ScalarAsync(owner, recent))!;
        var refused = await Assert.ThrowsAsync<PostgresException>(() =>
            AuditRetention.RunAsync(TestEnvironment.ConnectionFor(fx.Database), TimeSpan.FromDays(365), TimeProvider.System, NullLogger.Instance, default));
        Assert.Equal(PostgresErrorCodes.InsufficientPrivilege, refused.SqlState);

        Assert.True(await AuditRetention.RunAsync(owner, TimeSpan.FromDays(365), TimeProvider.System, NullLogger.Instance, default) >= 2);
        Assert.Equal(1L, (long)(await ScalarAsync(owner, $"SELECT count(*) FROM audit_events WHERE \"Type\" = '{marker}'"))!);
        // Recent events, whoever wrote them, are kept.
        Assert.True((long)(await ScalarAsync(owner, recent))! >= recentBefore);
    }
}

/// <summary>The one-off jobs as scripts/run runs them: <c>dotnet App.dll migrate audit-retention</c>, as the owner role.</summary>
public sealed class MigrateCommandTests
{
    [Fact]
    public async Task Migrate_builds_the_schema_as_the_owner_and_grants_the_apps_role_only_what_it_needs()
    {
        var name = await TestDatabase.CreateEmptyAsync();
        try
        {
            var owner = TestEnvironment.AdminConnectionFor(name);
            var app = TestEnvironment.ConnectionFor(name);
            var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "App.dll"), "migrate", "audit-retention"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            start.Environment["ConnectionStrings__Postgres"] = app;
            start.Environment["ConnectionStrings__PostgresOwner"] = owner;
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            var log = await output + await errors;
            Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {log}");
            Assert.Contains("and only insert and read audit events", log, StringComparison.Ordinal);
            Assert.Contains("Audit retention: deleted 0 events", log, StringComparison.Ordinal);
            Assert.DoesNotContain(new NpgsqlConnectionStringBuilder(owner).Password!, log, StringComparison.Ordinal);

            Assert.False(await DatabaseSetup.AppRoleMayRewriteAuditAsync(app, default));
            await using var db = TestDatabase.NewContext(app);
            Assert.Empty(await Microsoft.EntityFrameworkCore.RelationalDatabaseFacadeExtensions.GetPendingMigrationsAsync(db.Database));
        }
        finally
        {
            await TestDatabase.DropAsync(name);
        }
    }

    [Fact]
    public async Task An_unknown_command_fails_and_names_the_known_ones()
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "App.dll"), "drop-everything"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(2, process.ExitCode);
        Assert.Contains("migrate, audit-retention, rotate-session-id-key", await output + await errors, StringComparison.Ordinal);
    }
}
