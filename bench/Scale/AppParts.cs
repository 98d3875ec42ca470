using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using StackExchange.Redis;

namespace SessionGate.Bench.Scale;

/// <summary>
/// The app's own parts, wired the way the app wires them: the EF model, Data Protection over the app's key ring in
/// PostgreSQL (so <see cref="SessionSecrets"/> loads the very key the app MACs session ids with), and
/// <see cref="RedisStore"/> for key names and session writes. Only the Redis connection differs: long timeouts, since
/// the tool keeps tens of thousands of writes in flight.
/// </summary>
public sealed class AppParts : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    private AppParts(ServiceProvider services, string connectionString, IModel model, SessionSecrets secrets, IConnectionMultiplexer redis, RedisStore store)
    {
        _services = services;
        ConnectionString = connectionString;
        Model = model;
        Secrets = secrets;
        Redis = redis;
        Store = store;
    }

    public string ConnectionString { get; }
    public IModel Model { get; }
    public SessionSecrets Secrets { get; }
    public IConnectionMultiplexer Redis { get; }
    public RedisStore Store { get; }

    public static async Task<AppParts> CreateAsync(Args args)
    {
        // Connected as the app connects (ConnectionOptions.Tune: no DISCARD ALL on every return to the pool), so the
        // tool never puts a statement into pg_stat_statements that the app would not send.
        var postgres = ConnectionOptions.Tune(args.Required("postgres"))!;
        var redisConfiguration = args.Required("redis");
        var prefix = args.String("prefix", "sg:");

        var services = new ServiceCollection();
        services.AddLogging();
        // The app's DataProtection:* settings (a certificate that encrypts the key ring) come from the environment, as
        // the app reads them (DataProtection__CertificatePath and so on).
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddEnvironmentVariables().Build());
        services.AddDbContext<AppDbContext>(o => o.UseNpgsql(postgres));
        // Exactly as Extensions.AddSessionGate configures it: same application name, same key ring.
        services.AddDataProtection().SetApplicationName("SessionGate").PersistKeysToDbContext<AppDbContext>();
        DataProtectionCertificate.Register(services);
        services.AddSingleton<SessionSecrets>();
        var provider = services.BuildServiceProvider();

        IModel model;
        SessionSecrets secrets;
        using (var scope = provider.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
            var applied = await db.Database.GetAppliedMigrationsAsync();
            if (!applied.Any())
                throw new BenchException("the database has no migrations applied: start the app once first (Database__MigrateOnStart=true), so it migrates and creates its keys");
            if (!await db.ServerSecrets.AnyAsync())
                throw new BenchException("the app has not created its session-id key yet: start the app once first");
            secrets = provider.GetRequiredService<SessionSecrets>();
            await secrets.InitializeAsync(db, TimeProvider.System);
            model = db.GetService<IDesignTimeModel>().Model;
        }

        var config = ConfigurationOptions.Parse(redisConfiguration);
        config.AbortOnConnectFail = true;
        config.AsyncTimeout = 120_000;
        config.SyncTimeout = 120_000;
        var redis = await ConnectionMultiplexer.ConnectAsync(config);
        var store = new RedisStore(redis, Options.Create(new RedisOptions { Configuration = redisConfiguration, KeyPrefix = prefix }));
        return new AppParts(provider, postgres, model, secrets, redis, store);
    }

    public AppDbContext NewDb() => new(new DbContextOptionsBuilder<AppDbContext>().UseNpgsql(ConnectionString).Options);

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        await Redis.DisposeAsync();
        await _services.DisposeAsync();
    }
}
