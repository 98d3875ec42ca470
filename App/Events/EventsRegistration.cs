namespace SessionGate.Events;

/// <summary>Session events out: the options, the sender and the dispatcher that runs on every instance.</summary>
public static class EventsRegistration
{
    public static IServiceCollection AddEvents(this IServiceCollection services)
    {
        services.AddOptions<WebhookOptions>().BindConfiguration("Webhooks")
            .Validate(o => o.Schedule is not null, "Webhooks:RetrySchedule must be 1 to 20 comma-separated positive TimeSpans.")
            .Validate(o => o.AttemptTimeout >= TimeSpan.FromMilliseconds(100) && o.AttemptTimeout <= TimeSpan.FromMinutes(2),
                "Webhooks:AttemptTimeout must be between 00:00:00.1 and 00:02:00.")
            .Validate(o => o.PollInterval > TimeSpan.Zero && o.PollInterval <= TimeSpan.FromMinutes(1), "Webhooks:PollInterval must be positive and at most 00:01:00.")
            .Validate(o => o.MaxConcurrency is > 0 and <= 256, "Webhooks:MaxConcurrency must be between 1 and 256.")
            .Validate(o => o.RetainFor >= o.ScheduleSpan * 1.1 + TimeSpan.FromHours(1),
                "Webhooks:RetainFor must outlast the whole retry schedule (its sum plus 10 %) by at least an hour.")
            .Validate(o => o.SecretRotationGrace >= TimeSpan.Zero && o.SecretRotationGrace <= TimeSpan.FromDays(7), "Webhooks:SecretRotationGrace must be between 0 and 7 days.")
            .Validate(o => o.MaxEndpointsPerTenant is > 0 and <= 1000, "Webhooks:MaxEndpointsPerTenant must be between 1 and 1000.")
            .ValidateOnStart();
        services.AddSingleton<WebhookSecrets>();
        services.AddSingleton<WebhookSender>();
        services.AddSingleton<WebhookDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        return services;
    }
}
