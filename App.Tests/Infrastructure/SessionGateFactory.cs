using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;

namespace SessionGate.Tests.Infrastructure;

/// <summary>Hosts the real app against its own database (cloned from the migrated template) and Redis prefix.</summary>
public sealed class SessionGateFactory(IReadOnlyDictionary<string, string?> settings, LogSink logs, Action<IServiceCollection>? configureServices = null)
    : WebApplicationFactory<Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        // Added last, so these win over the environment that scripts/test exports.
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(settings));
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<ILogEventSink>(logs);
            services.AddSingleton<IStartupFilter, LoopbackConnection>();
            configureServices?.Invoke(services);
        });
    }
}
