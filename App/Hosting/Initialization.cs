using System.Reflection;
using System.Runtime.Loader;
using SessionGate.Admin;
using SessionGate.Auth;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.Hosting;

/// <summary>Start-up work: migrations, bootstrap and demo data, the first signing key.</summary>
public static partial class Initialization
{
    public static async Task InitializeAsync(this WebApplication app)
    {
        using var scope = app.Services.CreateScope();
        var sp = scope.ServiceProvider;
        var db = sp.GetRequiredService<AppDbContext>();
        var logger = sp.GetRequiredService<ILoggerFactory>().CreateLogger("SessionGate.Startup");
        var appConnection = sp.GetRequiredService<IOptions<ConnectionOptions>>().Value.Postgres!;
        if (sp.GetRequiredService<IOptions<DatabaseOptions>>().Value.MigrateOnStart)
        {
            EnsureMigrationsAssembly();
            var owner = app.Configuration.GetConnectionString("PostgresOwner") is { Length: > 0 } o ? o : appConnection;
            await DatabaseSetup.MigrateAsync(owner, appConnection, logger, CancellationToken.None);
            LogMigrated(logger);
        }
        await StoredSecrets.ProtectUnderCertificateAsync(app.Services, logger);
        await Seed.RunAsync(sp);
        var secrets = sp.GetRequiredService<SessionSecrets>();
        await secrets.InitializeAsync(db, sp.GetRequiredService<TimeProvider>());
        secrets.StartReloading(app.Lifetime.ApplicationStopping);
        await sp.GetRequiredService<KeyRing>().ReloadAsync();
        // Before the first request: Redis proves how current it is, or PostgreSQL decides (Sessions/RedisProof).
        await sp.GetRequiredService<SessionGate.Sessions.RedisProof>().RefreshAsync(CancellationToken.None);
        sp.GetRequiredService<PasswordPolicy>().Warm();
        await WarnAboutRiskySettingsAsync(sp, logger);
        await WarnAboutShippedDefaultsAsync(app, appConnection, logger);
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

    // What a production deployment must not keep from a demo or a developer's machine (docs/DEPLOYMENT.md).
    private static async Task WarnAboutShippedDefaultsAsync(WebApplication app, string appConnection, ILogger logger)
    {
        var config = app.Configuration;
        var demo = app.Services.GetRequiredService<IOptions<DemoOptions>>().Value;
        if (demo.Seed && !string.IsNullOrEmpty(demo.Password)) LogDemo(logger);
        if (!app.Environment.IsDevelopment() && (config["AllowedHosts"] ?? "*").Split(';').Any(h => h.Trim() == "*")) LogAnyHost(logger);
        var management = app.Services.GetRequiredService<IOptions<ManagementOptions>>().Value.Urls;
        if (ManagementOptions.Split(management).Any(u => !IsLoopback(BindingAddress.Parse(u).Host))) LogManagementBeyondLoopback(logger, management);
        try
        {
            if (await DatabaseSetup.AppRoleMayRewriteAuditAsync(appConnection, CancellationToken.None)) LogAuditRewritable(logger);
        }
        catch (Npgsql.NpgsqlException)
        {
            // PostgreSQL is down at start: the app answers 503 until it is back; the check runs at the next start.
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
    [LoggerMessage(Level = LogLevel.Warning, Message = "DEMO: the demo tenant is seeded with a known password (Demo:Seed, Demo:Password); never expose this instance")]
    private static partial void LogDemo(ILogger logger);

    private static bool IsLoopback(string host) =>
        host is "localhost" || System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Management:Urls ({Urls}) listens beyond loopback: /metrics and /health/ready are reachable from the network there; keep that port private")]
    private static partial void LogManagementBeyondLoopback(ILogger logger, string urls);

    [LoggerMessage(Level = LogLevel.Warning, Message = "AllowedHosts is *: requests naming any host are answered; set it to the host names clients use")]
    private static partial void LogAnyHost(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The app's database role may change or delete audit events (it owns the tables or was granted it); run migrations as a separate owner role (dotnet App.dll migrate with ConnectionStrings:PostgresOwner)")]
    private static partial void LogAuditRewritable(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "Database migrations applied")]
    private static partial void LogMigrated(ILogger logger);
}
