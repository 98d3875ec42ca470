namespace SessionGate.Caching;

/// <summary>The L1 and the cluster-wide invalidation bus that keeps every instance's L1 honest.</summary>
public static class CachingRegistration
{
    public static IServiceCollection AddCaching(this IServiceCollection services)
    {
        services.AddOptions<RevocationOptions>().BindConfiguration("Revocation")
            .Validate(o => o.LocalCacheMaxAge >= TimeSpan.Zero && o.LocalCacheMaxAge <= TimeSpan.FromSeconds(10),
                "Revocation:LocalCacheMaxAge must be between 00:00:00 (off) and 00:00:10.")
            .Validate(o => o.ProbeInterval > TimeSpan.Zero && o.ProbeInterval <= TimeSpan.FromSeconds(10),
                "Revocation:ProbeInterval must be between 00:00:00 (excluded) and 00:00:10: a lost subscription is noticed within three of them.")
            .Validate(o => o.RelayInterval > TimeSpan.Zero && o.RelayInterval <= TimeSpan.FromSeconds(10),
                "Revocation:RelayInterval must be between 00:00:00 (excluded) and 00:00:10: it bounds how long a Redis that came back older goes unnoticed.")
            .Validate(o => o.OutboxRetention >= TimeSpan.FromMinutes(1) && o.OutboxRetention >= o.RelayInterval * 10,
                "Revocation:OutboxRetention must be at least 00:01:00 and ten relay intervals.")
            .Validate(o => o.ProofLagWarning > o.RelayInterval, "Revocation:ProofLagWarning must exceed Revocation:RelayInterval.")
            .Validate(o => o.LocalCacheMaxEntries > 0, "Revocation:LocalCacheMaxEntries must be positive.")
            .ValidateOnStart();
        services.AddSingleton<LocalCache>();
        services.AddSingleton<InvalidationBus>();
        services.AddHostedService(sp => sp.GetRequiredService<InvalidationBus>());
        return services;
    }
}
