using SessionGate.Sessions;

namespace SessionGate.Outbox;

/// <summary>The relay that replays every committed change into Redis until Redis proves it holds it.</summary>
public static class OutboxRegistration
{
    public static IServiceCollection AddOutbox(this IServiceCollection services)
    {
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        return services;
    }
}
