namespace SessionGate.Revocation;

/// <summary>The revocation pipeline: the outbox relay, pub/sub invalidation, the bounded L1.</summary>
public static class RevocationRegistration
{
    public static IServiceCollection AddRevocationPipeline(this IServiceCollection services)
    {
        services.AddOptions<RevocationOptions>().BindConfiguration("Revocation")
            .Validate(o => o.LocalCacheMaxAge >= TimeSpan.Zero && o.LocalCacheMaxAge <= TimeSpan.FromSeconds(10),
                "Revocation:LocalCacheMaxAge must be between 00:00:00 (off) and 00:00:10.")
            .Validate(o => o.ProbeInterval > TimeSpan.Zero && o.RelayInterval > TimeSpan.Zero && o.ReplayWindow > TimeSpan.Zero,
                "Revocation:ProbeInterval, RelayInterval and ReplayWindow must be positive.")
            .Validate(o => o.LocalCacheMaxEntries > 0, "Revocation:LocalCacheMaxEntries must be positive.")
            .ValidateOnStart();
        services.AddSingleton<LocalCache>();
        services.AddSingleton<InvalidationBus>();
        services.AddHostedService(sp => sp.GetRequiredService<InvalidationBus>());
        services.AddSingleton<UserFloors>();
        services.AddSingleton<RevocationPipeline>();
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        return services;
    }
}
