namespace SessionGate.Infrastructure;

/// <summary>
/// One logger per category. Serilog's factory builds a new logger (with its own caches) on every
/// <see cref="ILoggerFactory.CreateLogger"/>, and parts of ASP.NET Core ask for one on every request: each
/// authentication handler, and each result written by <c>TypedResults.Ok</c> or <c>TypedResults.Text</c>. Profiled,
/// that was 0.3 to 0.5% of the CPU of <c>/health/live</c> and <c>/api/profile</c>, besides the authentication handler's
/// 6% that an earlier fix had already removed for that handler alone. Loggers are thread-safe, so one per category
/// serves every request.
/// </summary>
public sealed class CachedLoggerFactory(ILoggerFactory inner, bool ownsInner) : ILoggerFactory
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, inner.CreateLogger);

    public void AddProvider(ILoggerProvider provider)
    {
        // A new provider must reach the categories already handed out too.
        inner.AddProvider(provider);
        _loggers.Clear();
    }

    public void Dispose()
    {
        if (ownsInner) inner.Dispose();
    }

    /// <summary>Wraps the last <see cref="ILoggerFactory"/> registered (Serilog's) in one of these.</summary>
    public static IServiceCollection Decorate(IServiceCollection services)
    {
        var registered = services.LastOrDefault(d => d.ServiceType == typeof(ILoggerFactory) && !d.IsKeyedService);
        if (registered is null) return services;
        services.Remove(registered);
        // An instance registered as such stays its owner's to dispose; one the container built is ours now.
        return services.AddSingleton<ILoggerFactory>(sp => registered.ImplementationInstance is ILoggerFactory instance
            ? new CachedLoggerFactory(instance, ownsInner: false)
            : new CachedLoggerFactory((ILoggerFactory)(registered.ImplementationFactory?.Invoke(sp)
                ?? ActivatorUtilities.CreateInstance(sp, registered.ImplementationType!)), ownsInner: true));
    }
}
