using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql;
using SessionGate.Data;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// Real PostgreSQL and Redis from scripts/test (or the environment). Each fixture gets its own database,
/// cloned from a template that is migrated once per migration set.
/// </summary>
public static class TestEnvironment
{
    /// <summary>The app's role (scripts/run services exports it): no CREATEDB, only INSERT and SELECT on the audit log.</summary>
    public static string Postgres { get; } = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
        ?? "Host=127.0.0.1;Port=15432;Database=sessiongate;Username=sessiongate;Password=sessiongate";

    /// <summary>
    /// A role that may create databases (SG_POSTGRES_ADMIN from scripts/run services): it creates each fixture's
    /// database and owns its tables, as the owner role does in a deployment. Without it, the app's role does that too.
    /// </summary>
    public static string Admin { get; } = Environment.GetEnvironmentVariable("SG_POSTGRES_ADMIN") is { Length: > 0 } a ? a : Postgres;

    public static string Redis { get; } = Environment.GetEnvironmentVariable("Redis__Configuration") ?? "127.0.0.1:16379";

    /// <summary>A Redis Cluster seed list, when scripts/test could start one.</summary>
    public static string? RedisCluster { get; } = Environment.GetEnvironmentVariable("SG_TEST_REDIS_CLUSTER") is { Length: > 0 } c ? c : null;

    /// <summary>The app's role on <paramref name="database"/>: what the app under test connects as.</summary>
    public static string ConnectionFor(string database) =>
        new NpgsqlConnectionStringBuilder(Postgres) { Database = database, Pooling = true }.ConnectionString;

    /// <summary>The owning role on <paramref name="database"/>: for schema work and what the app's role may not do.</summary>
    public static string AdminConnectionFor(string database) =>
        new NpgsqlConnectionStringBuilder(Admin) { Database = database, Pooling = true }.ConnectionString;
}

public static class TestDatabase
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static string? _template;

    public static async Task<string> CreateAsync()
    {
        var template = await TemplateAsync();
        var name = "sg_t_" + Guid.NewGuid().ToString("N")[..16];
        await ExecuteAsync($"CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        return name;
    }

    /// <summary>A database with no schema at all, for tests that migrate it themselves.</summary>
    public static async Task<string> CreateEmptyAsync()
    {
        var name = "sg_t_" + Guid.NewGuid().ToString("N")[..16];
        await ExecuteAsync($"CREATE DATABASE \"{name}\"");
        return name;
    }

    public static async Task DropAsync(string name)
    {
        NpgsqlConnection.ClearAllPools();
        await ExecuteAsync($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    }

    private static async Task<string> TemplateAsync()
    {
        if (_template is not null) return _template;
        await Gate.WaitAsync();
        try
        {
            if (_template is not null) return _template;
            using (var probe = NewContext(TestEnvironment.Postgres))
            {
                // Named by every migration it holds (two branches can share a last migration, and a server can be shared
                // by checkouts of different branches); "_r2": built the way the roles are split (owned by the admin role,
                // granted to the app's role), unlike a template from before that with the same migrations.
                var migrations = string.Join('\n', probe.Database.GetMigrations());
                var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(migrations)))[..16];
                _template = "sg_tpl_" + digest + "_r2";
            }
            if (!await ExistsAsync(_template))
            {
                // Migrate under a temporary name, then rename: a crashed run never leaves a half-made template.
                var building = _template + "_" + Guid.NewGuid().ToString("N")[..6];
                await ExecuteAsync($"CREATE DATABASE \"{building}\"");
                // Exactly as `dotnet App.dll migrate` does it: migrated by the owner, the app's role granted what it needs.
                await DatabaseSetup.MigrateAsync(TestEnvironment.AdminConnectionFor(building), TestEnvironment.ConnectionFor(building),
                    Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, CancellationToken.None);
                NpgsqlConnection.ClearAllPools();
                try
                {
                    await ExecuteAsync($"ALTER DATABASE \"{building}\" RENAME TO \"{_template}\"");
                }
                catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.DuplicateDatabase)
                {
                    await ExecuteAsync($"DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)");
                }
            }
            return _template;
        }
        finally
        {
            Gate.Release();
        }
    }

    public static AppDbContext NewContext(string connection) =>
        new(new DbContextOptionsBuilder<AppDbContext>()
            .UseNpgsql(connection, o => o.MigrationsAssembly(AppDbContext.MigrationsAssembly))
            .Options);

    private static async Task<bool> ExistsAsync(string name)
    {
        await using var conn = new NpgsqlConnection(TestEnvironment.AdminConnectionFor("postgres"));
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @n", conn);
        cmd.Parameters.AddWithValue("n", name);
        return await cmd.ExecuteScalarAsync() is not null;
    }

    private static async Task ExecuteAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(TestEnvironment.AdminConnectionFor("postgres"));
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
