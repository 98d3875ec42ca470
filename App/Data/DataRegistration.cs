using Microsoft.AspNetCore.DataProtection;

namespace SessionGate.Data;

/// <summary>PostgreSQL, the source of truth: the context pool, the Data Protection key ring kept in it, the audit trail.</summary>
public static class DataRegistration
{
    public static IServiceCollection AddData(this IServiceCollection services)
    {
        services.AddOptions<DatabaseOptions>().BindConfiguration("Database");
        services.AddOptions<DemoOptions>().BindConfiguration("Demo");
        services.AddOptions<ConnectionOptions>()
            .Configure<IConfiguration>((o, c) => o.Postgres = ConnectionOptions.Tune(c.GetConnectionString("Postgres")))
            .Validate(o => !string.IsNullOrWhiteSpace(o.Postgres), "ConnectionStrings:Postgres is required.")
            .ValidateOnStart();

        // One pool of contexts: the singletons on the hot path (modes, relay, sliding writer) take one only on a miss;
        // endpoints get a scoped one from the same pool.
        services.AddPooledDbContextFactory<AppDbContext>((sp, o) => o.UseNpgsql(
            sp.GetRequiredService<IOptions<ConnectionOptions>>().Value.Postgres,
            npgsql => npgsql.MigrationsAssembly(AppDbContext.MigrationsAssembly)));
        services.AddScoped(sp => sp.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext());

        // The key ring that protects the signing keys lives in PostgreSQL; with a certificate configured it is itself
        // encrypted there, so a copy of the database alone does not yield the keys.
        services.AddDataProtection().SetApplicationName("SessionGate").PersistKeysToDbContext<AppDbContext>();
        DataProtectionCertificate.Register(services);
        // Each feature registers the protected values it stores (AddStoredSecret), so that configuring a certificate
        // later re-protects them all (StoredSecrets).
        return services;
    }
}
