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
    public static string Postgres { get; } = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
        ?? "Host=127.0.0.1;Port=15432;Database=sessiongate;Username=sessiongate;Password=sessiongate";

    public static string Redis { get; } = Environment.GetEnvironmentVariable("Redis__Configuration") ?? "127.0.0.1:16379";

    /// <summary>A Redis Cluster seed list, when scripts/test could start one.</summary>
    public static string? RedisCluster { get; } = Environment.GetEnvironmentVariable("SG_TEST_REDIS_CLUSTER") is { Length: > 0 } c ? c : null;

    public static string ConnectionFor(string database) =>
        new NpgsqlConnectionStringBuilder(Postgres) { Database = database, Pooling = true }.ConnectionString;
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
                var last = probe.Database.GetMigrations().Last();
                _template = "sg_tpl_" + last.ToLowerInvariant();
            }
            if (!await ExistsAsync(_template))
            {
                // Migrate under a temporary name, then rename: a crashed run never leaves a half-made template.
                var building = _template + "_" + Guid.NewGuid().ToString("N")[..6];
                await ExecuteAsync($"CREATE DATABASE \"{building}\"");
                await using (var db = NewContext(TestEnvironment.ConnectionFor(building)))
                    await db.Database.MigrateAsync();
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
        await using var conn = new NpgsqlConnection(TestEnvironment.ConnectionFor("postgres"));
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @n", conn);
        cmd.Parameters.AddWithValue("n", name);
        return await cmd.ExecuteScalarAsync() is not null;
    }

    private static async Task ExecuteAsync(string sql)
    {
        await using var conn = new NpgsqlConnection(TestEnvironment.ConnectionFor("postgres"));
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, conn);
        await cmd.ExecuteNonQueryAsync();
    }
}
