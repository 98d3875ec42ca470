using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Observability;
using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>Sessions: the configured mode, Redis, the session services and their background work.</summary>
public static class SessionsRegistration
{
    public static IServiceCollection AddSessions(this IServiceCollection services)
    {
        services.AddOptions<AuthOptions>().BindConfiguration("Auth").ValidateOnStart();
        services.AddOptions<MetricsOptions>().Configure<IOptions<AuthOptions>>((m, auth) => m.Mode = auth.Value.Mode.ToString());
        services.AddOptions<SessionLifetimeOptions>().BindConfiguration("Session")
            .Validate(o => o.IdleTimeout > TimeSpan.Zero && o.AbsoluteTimeout > TimeSpan.Zero, "Session:IdleTimeout and Session:AbsoluteTimeout must be positive.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.Cookie.Name), "Session:Cookie:Name is required.")
            .Validate(o => o.RetainEndedFor >= TimeSpan.FromHours(1), "Session:RetainEndedFor must be at least 01:00:00 (past every token's life).")
            .ValidateOnStart();
        services.AddOptions<RedisOptions>().BindConfiguration("Redis").ValidateDataAnnotations()
            .Validate(o => !string.IsNullOrWhiteSpace(o.Configuration), "Redis:Configuration is required.")
            .ValidateOnStart();
        services.AddSingleton<IConnectionMultiplexer>(sp => RedisStore.Connect(sp.GetRequiredService<IOptions<RedisOptions>>().Value));
        services.AddSingleton<RedisStore>();
        SessionIdKeyOptions.Register(services);
        services.AddSingleton<SessionSecrets>();
        services.AddStoredSecret<ServerSecret>(SessionSecrets.ProtectorPurpose, db => db.ServerSecrets, s => s.ProtectedValue, (s, v) => s.ProtectedValue = v);
        // What Redis has proven it holds, and the changes the hot path holds its answers against.
        services.AddSingleton<UserFloors>();
        services.AddSingleton<RevocationPipeline>();
        services.AddSingleton<RedisMarks>();
        services.AddSingleton<RedisProof>();

        // The modes are singletons: the hot path allocates no scope and no DbContext unless it misses.
        services.AddSingleton<RoleSets>();
        services.AddSingleton<SlidingWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<SlidingWriter>());
        services.AddSingleton<ServerSessionServices>();
        services.AddSingleton<JwtCredentials>();
        services.AddSingleton<IAuthMode>(sp => sp.GetRequiredService<IOptions<AuthOptions>>().Value.Mode switch
        {
            AuthMode.Blacklist => ActivatorUtilities.CreateInstance<BlacklistMode>(sp),
            AuthMode.SessionCache => ActivatorUtilities.CreateInstance<SessionCacheMode>(sp),
            _ => ActivatorUtilities.CreateInstance<OpaqueMode>(sp),
        });
        services.AddScoped<SessionService>();
        services.AddScoped<RefreshService>();
        services.AddSingleton<SessionJanitor>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionJanitor>());
        return services;
    }
}
