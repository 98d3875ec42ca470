using System.Text.RegularExpressions;

namespace SessionGate.Infrastructure;

/// <summary>The management listener (<c>Management</c> section): where <c>/metrics</c> and <c>/health/ready</c> are served.</summary>
public sealed class ManagementOptions
{
    public const string DefaultUrls = "http://127.0.0.1:9464";

    /// <summary>
    /// URLs (separated by <c>;</c>) of a second listener that alone serves the management endpoints; each needs an
    /// explicit port. Loopback by default, so only the machine itself (a local Prometheus agent, a sidecar) reaches
    /// them. Empty: one listener serves everything, which is only safe behind a proxy that blocks those paths.
    /// </summary>
    public string Urls { get; set; } = DefaultUrls;

    internal static IReadOnlyList<string> Split(string? urls) =>
        (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The ports of <see cref="Urls"/>: a request that arrived on one of them is on the management listener.</summary>
    public IReadOnlyList<int> Ports() => [.. Split(Urls).Select(u => BindingAddress.Parse(u).Port).Distinct()];
}

/// <summary>Endpoint metadata: served on the management listener, and also on the public one when <see cref="AlsoPublic"/>.</summary>
public sealed record ManagementEndpoint(bool AlsoPublic)
{
    /// <summary>Management listener only (<c>/metrics</c>, <c>/health/ready</c>) once it is separate.</summary>
    public static readonly ManagementEndpoint Only = new(false);

    /// <summary>Both listeners (<c>/health/live</c>).</summary>
    public static readonly ManagementEndpoint Both = new(true);
}

/// <summary>
/// A second listener for the management endpoints. A request is on the management listener when it arrived on one of
/// its ports (the connection's local port: a Host header cannot fake it). There, only endpoints marked
/// <see cref="ManagementEndpoint"/> answer; on the public listener, those marked <see cref="ManagementEndpoint.Only"/>
/// answer 404, exactly as if they did not exist.
/// </summary>
public static partial class ManagementListener
{
    /// <summary>Adds the management URLs to the ones the server listens on (<c>ASPNETCORE_URLS</c>, <c>--urls</c>, <c>ASPNETCORE_HTTP_PORTS</c>).</summary>
    public static WebApplicationBuilder AddManagementListener(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ManagementOptions>().BindConfiguration("Management")
            .Validate(o => ManagementOptions.Split(o.Urls).All(IsExplicitPort), "Management:Urls must be absolute http(s) URLs, each with an explicit port other than 0.")
            .ValidateOnStart();
        var management = ManagementOptions.Split(builder.Configuration["Management:Urls"] ?? ManagementOptions.DefaultUrls);
        if (management.Count == 0 || !management.All(IsExplicitPort)) return builder; // one listener, or refused at start
        var publicUrls = PublicUrls(builder.Configuration);
        if (management.Select(PortOf).Intersect(publicUrls.Select(PortOf)).Any())
            throw new InvalidOperationException($"Management:Urls ({string.Join(';', management)}) must not use a port of the public listener ({string.Join(';', publicUrls)}).");
        builder.WebHost.UseUrls([.. publicUrls, .. management]);
        return builder;
    }

    /// <summary>The public listener's URLs as the server would choose them without the management ones.</summary>
    public static IReadOnlyList<string> PublicUrls(IConfiguration configuration)
    {
        if (ManagementOptions.Split(configuration[WebHostDefaults.ServerUrlsKey]) is { Count: > 0 } urls) return urls;
        var ports = ManagementOptions.Split(configuration["http_ports"]).Select(p => $"http://*:{p}")
            .Concat(ManagementOptions.Split(configuration["https_ports"]).Select(p => $"https://*:{p}")).ToList();
        return ports.Count > 0 ? ports : ["http://localhost:5000"];
    }

    /// <summary>Routes each request to its listener (see the class); nothing to do when there is only one listener.</summary>
    public static IApplicationBuilder UseManagementListener(this WebApplication app)
    {
        var ports = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ManagementOptions>>().Value.Ports();
        if (ports.Count == 0) return app;
        return app.Use((context, next) =>
        {
            var management = ports.Contains(context.Connection.LocalPort);
            var marked = context.GetEndpoint()?.Metadata.GetMetadata<ManagementEndpoint>();
            if (management ? marked is null : marked is { AlsoPublic: false })
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }
            return next(context);
        });
    }

    private static bool IsExplicitPort(string url)
    {
        if (!Regex.IsMatch(url, @"^https?://[^/]+:[0-9]+/?$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))) return false;
        try
        {
            return BindingAddress.Parse(url).Port > 0;
        }
        catch (FormatException)
        {
            return false;
        }
    }

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
}
