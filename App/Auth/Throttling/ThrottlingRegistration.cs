namespace SessionGate.Auth;

/// <summary>
/// Every limit on guessing and flooding, in one place: the login limits (per device, per account and address, per
/// network) that passwords, current passwords and second-factor codes all count against, device tokens, and the
/// request rate limits.
/// </summary>
public static class ThrottlingRegistration
{
    public static IServiceCollection AddLoginThrottling(this IServiceCollection services)
    {
        services.AddOptions<LoginLimitOptions>().BindConfiguration("LoginLimits")
            .Validate(o => o.MaxFailuresPerAccountAndAddress > 0 && o.MaxFailuresPerAccount > 0 && o.MaxFailuresPerIp > 0
                    && o.MaxFailuresPerIpv6Slash56 > 0 && o.MaxFailuresPerIpv6Slash48 > 0 && o.MaxFailuresPerDevice > 0
                    && o.UnderAttackFailuresPerMinute > 0 && o.MaxPasswordChangeFailures > 0 && o.MaxPasswordChangeFailuresPerAccount > 0
                    && o.Window > TimeSpan.Zero && o.DeviceTokenLifetime > TimeSpan.Zero && o.RequestsPerMinutePerIp > 0,
                "LoginLimits values must be positive.")
            .Validate(o => o.NewDeviceDelay >= TimeSpan.Zero && o.NewDeviceMaxDelay >= o.NewDeviceDelay && o.NewDeviceMaxDelay <= TimeSpan.FromSeconds(30),
                "LoginLimits:NewDeviceDelay must be 0 or more and NewDeviceMaxDelay between it and 30 seconds (the owner on a new device waits that long at most).")
            .ValidateOnStart();
        services.AddSingleton<LoginCounters>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<DeviceTokens>();
        services.AddSingleton<CurrentPassword>();
        services.AddScoped<CodeAttempts>();
        return services.AddSessionGateRateLimits();
    }
}
