using System.Reflection;
using System.Runtime.Loader;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.Infrastructure;

/// <summary>Start-up work: migrations, bootstrap and demo data, the first signing key.</summary>
public static partial class Startup
{
    public static async Task InitializeAsync(this WebApplication app)
    {
        using var scope = app.Services.CreateScope();
        var sp = scope.ServiceProvider;
        var db = sp.GetRequiredService<AppDbContext>();
        var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("SessionGate.Startup");
        if (sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.MigrateOnStart)
        {
            EnsureMigrationsAssembly();
            await db.Database.MigrateAsync();
            LogMigrated(logger);
        }
        await Seed.RunAsync(sp);
        await sp.GetRequiredService<SessionSecrets>().InitializeAsync(db, sp.GetRequiredService<TimeProvider>());
        await sp.GetRequiredService<KeyRing>().ReloadAsync();
        // Before the first request: Redis proves how current it is, or PostgreSQL decides (Revocation/RedisProof).
        await sp.GetRequiredService<Revocation.RedisProof>().RefreshAsync(CancellationToken.None);
        sp.GetRequiredService<PasswordPolicy>().Warm();
        await WarnAboutRiskySettingsAsync(sp, logger);
        LogStarted(logger, sp.GetRequiredService<IOptions<AuthOptions>>().Value.Mode.ToString(),
            sp.GetRequiredService<IOptions<JwtOptions>>().Value.Algorithm);
    }

    private static async Task WarnAboutRiskySettingsAsync(IServiceProvider sp, ILogger logger)
    {
        if (!DataProtectionCertificate.IsConfigured(sp.GetRequiredService<IConfiguration>())) LogKeyRingUnencrypted(logger);
        // With synchronous_commit off, PostgreSQL acknowledges a logout before it is on disk: a crash a moment later
        // loses the revocation, and the session is live again once Redis forgets its tombstone.
        var db = sp.GetRequiredService<AppDbContext>();
        var commit = (await db.Database.SqlQuery<string>($"SELECT current_setting('synchronous_commit') AS \"Value\"").ToListAsync()).FirstOrDefault();
        if (commit is "off" or "local") LogAsynchronousCommit(logger, commit);
        // An evicting Redis could drop a tombstone or a revocation marker under memory pressure: PostgreSQL would
        // still decide correctly on a miss, but the pipeline's guarantees assume Redis keeps what it is given.
        try
        {
            // INFO is an admin command: ask on a short-lived admin connection, never on the app's own.
            var options = StackExchange.Redis.ConfigurationOptions.Parse(sp.GetRequiredService<IOptions<RedisOptions>>().Value.Configuration);
            options.AllowAdmin = true;
            options.AbortOnConnectFail = false;
            options.ConnectTimeout = Math.Min(options.ConnectTimeout, 2000);
            await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(options);
            foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
            {
                var info = await server.InfoAsync("memory");
                var policy = info.SelectMany(g => g).FirstOrDefault(p => p.Key == "maxmemory_policy").Value;
                if (policy is not null && policy != "noeviction") LogEvictingRedis(logger, server.EndPoint.ToString() ?? "?", policy);
            }
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or StackExchange.Redis.RedisTimeoutException)
        {
            // Redis may be down at start; the app fails closed until it is back.
        }
    }

    /// <summary>
    /// The migrations live in their own assembly (migrations/), which references this one; it is found
    /// beside App.dll when the app is built through that project (as scripts/run does).
    /// </summary>
    public static void EnsureMigrationsAssembly()
    {
        var path = Path.Combine(AppContext.BaseDirectory, AppDbContext.MigrationsAssembly + ".dll");
        AssemblyLoadContext.Default.Resolving += (ctx, name) =>
            name.Name == AppDbContext.MigrationsAssembly && File.Exists(path) ? ctx.LoadFromAssemblyPath(path) : null;
        try
        {
            Assembly.Load(AppDbContext.MigrationsAssembly);
        }
        catch (FileNotFoundException)
        {
            throw new InvalidOperationException(
                $"Database:MigrateOnStart is set but {AppDbContext.MigrationsAssembly}.dll is not beside App.dll. " +
                "Build migrations/Migrations.csproj (scripts/run does), or apply migrations with dotnet ef.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SessionGate started in {Mode} mode, signing with {Algorithm}")]
    private static partial void LogStarted(ILogger logger, string mode, string algorithm);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Data Protection key ring (which protects the signing keys) is stored unencrypted in PostgreSQL; set DataProtection:CertificatePath or DataProtection:CertificateThumbprint")]
    private static partial void LogKeyRingUnencrypted(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis {Endpoint} evicts keys under memory pressure (maxmemory-policy {Policy}); set it to noeviction so revocations are never evicted")]
    private static partial void LogEvictingRedis(ILogger logger, string endpoint, string policy);

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL runs with synchronous_commit = {Setting}: an acknowledged revocation can be lost in a crash; set it to on")]
    private static partial void LogAsynchronousCommit(ILogger logger, string setting);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database migrations applied")]
    private static partial void LogMigrated(ILogger logger);
}
