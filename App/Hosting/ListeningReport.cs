using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using SessionGate.Auth;
using SessionGate.Sessions;

namespace SessionGate.Hosting;

/// <summary>The <c>Startup</c> section.</summary>
public sealed class StartupSettings
{
    /// <summary>
    /// The URLs (<c>;</c>-separated) the operator meant the app to serve on. <c>scripts/run</c> sets it to
    /// <c>http://127.0.0.1:8080;http://127.0.0.1:9464</c> when it picks the ports itself; when one of them was taken
    /// and the app serves elsewhere, start-up says so as a warning. Empty: nothing to compare.
    /// </summary>
    public string RequestedUrls { get; set; } = "";
}

/// <summary>
/// Once the server listens, says in one line where (the public listener and the management one), and warns when that
/// is not where the operator asked (a busy port moved), or when browsers will drop the session cookie: it is
/// <c>Secure</c> (<c>__Host-</c>), which a browser keeps over plain HTTP on <c>localhost</c> and loopback addresses
/// only.
/// </summary>
public static partial class ListeningReport
{
    public static IServiceCollection AddListeningReport(this IServiceCollection services)
    {
        services.AddOptions<StartupSettings>().BindConfiguration("Startup")
            .Validate(o => ManagementOptions.Split(o.RequestedUrls).All(IsUrl), "Startup:RequestedUrls must list absolute http(s) URLs, separated by ;.")
            .ValidateOnStart();
        return services;
    }

    public static WebApplication ReportListeners(this WebApplication app)
    {
        app.Lifetime.ApplicationStarted.Register(() => Report(app.Services));
        return app;
    }

    private static void Report(IServiceProvider services)
    {
        // The in-memory test server listens nowhere: the addresses it holds are only the configured ones.
        var server = services.GetRequiredService<IServer>();
        if (server.GetType().FullName == "Microsoft.AspNetCore.TestHost.TestServer") return;
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        if (addresses.Length == 0) return;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("SessionGate.Startup");
        var managementPorts = services.GetRequiredService<IOptions<ManagementOptions>>().Value.Ports();
        var management = addresses.Where(a => managementPorts.Contains(PortOf(a))).ToArray();
        var served = addresses.Except(management).ToArray();
        if (management.Length > 0) LogServing(logger, string.Join(", ", served), string.Join(", ", management));
        else LogServingAlone(logger, string.Join(", ", served));

        var requested = ManagementOptions.Split(services.GetRequiredService<IOptions<StartupSettings>>().Value.RequestedUrls);
        var moved = requested.Where(r => addresses.All(a => PortOf(a) != PortOf(r))).ToArray();
        if (moved.Length > 0) LogMoved(logger, string.Join(", ", moved), string.Join(", ", served), management.Length > 0 ? string.Join(", ", management) : "none");

        if (!services.GetRequiredService<IAuthMode>().AcceptsCookie) return;
        if (services.GetRequiredService<IOptions<ForwardedHeadersSettings>>().Value.Enabled) return; // TLS is the proxy's
        var cookie = services.GetRequiredService<IOptions<SessionLifetimeOptions>>().Value.Cookie.Name;
        foreach (var url in served.Where(DropsSecureCookies)) LogCookieDropped(logger, cookie, url);
    }

    /// <summary>Whether a browser on this address drops <c>Secure</c> cookies: plain HTTP anywhere but loopback.</summary>
    public static bool DropsSecureCookies(string address) =>
        address.StartsWith("http://", StringComparison.OrdinalIgnoreCase) && !IsLoopback(BindingAddress.Parse(address).Host);

    private static bool IsLoopback(string host) =>
        host is "localhost" || System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && System.Net.IPAddress.IsLoopback(ip);

    private static bool IsUrl(string url) => Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https";

    private static int PortOf(string url)
    {
        try
        {
            return BindingAddress.Parse(url).Port;
        }
        catch (FormatException)
        {
            return -1;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "SessionGate serves {Urls}; the management listener (/metrics, /health/ready) is {ManagementUrls}")]
    private static partial void LogServing(ILogger logger, string urls, string managementUrls);

    [LoggerMessage(Level = LogLevel.Information, Message = "SessionGate serves {Urls} (and /metrics, /health/ready there too: Management:Urls is empty)")]
    private static partial void LogServingAlone(ILogger logger, string urls);

    [LoggerMessage(Level = LogLevel.Warning, Message = "NOT on {Requested}: that port was taken. SessionGate serves {Urls} (management: {ManagementUrls}); use these wherever the README says 8080 (9464 for management)")]
    private static partial void LogMoved(ILogger logger, string requested, string urls, string managementUrls);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The session cookie {Cookie} is Secure, and {Url} is plain HTTP beyond loopback: browsers there drop it, so a login answers 200 and every later call 401. Browse http://localhost or http://127.0.0.1, serve HTTPS, or put a TLS proxy in front (ForwardedHeaders:Enabled)")]
    private static partial void LogCookieDropped(ILogger logger, string cookie, string url);
}
