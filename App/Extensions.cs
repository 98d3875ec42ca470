using Microsoft.AspNetCore.HttpOverrides;
using Serilog;
using SessionGate.Admin;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Events;
using SessionGate.ForwardAuth;
using SessionGate.Gateway;
using SessionGate.Hosting;
using SessionGate.Mfa;
using SessionGate.Observability;
using SessionGate.Outbox;
using SessionGate.Sessions;
using SessionGate.TokenExchange;
using SessionGate.Tokens;
namespace SessionGate;

public static class Extensions
{
    /// <summary>
    /// The one config file sits at the repository root and is copied beside the binaries; read it from there so
    /// <c>dotnet run</c>, a published build and WebApplicationFactory all see it. Environment variables still win.
    /// </summary>
    public static WebApplicationBuilder AddSessionGateConfiguration(this WebApplicationBuilder builder)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "appsettings.json");
        // Lowest precedence: re-add every other source after it (adding is what makes a source load).
        var others = builder.Configuration.Sources.ToList();
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddJsonFile(path, optional: true, reloadOnChange: false);
        foreach (var source in others) builder.Configuration.Sources.Add(source);
        return builder;
    }

    /// <summary>Every feature, each registered by its own folder.</summary>
    public static IServiceCollection AddSessionGate(this IServiceCollection services, IConfiguration configuration) => services
        .AddHosting()
        .AddData()
        .AddAudit()
        .AddCaching()   // hosted services start in this order: invalidation and relay before the rest
        .AddOutbox()
        .AddTokens()
        .AddSessions()
        .AddAuth()
        .AddMfa()
        .AddAdmin()
        .AddSessionGateSwagger()
        .AddGateway(configuration)
        .AddForwardAuth()
        .AddTokenExchange()
        .AddObservability(configuration)
        .AddEvents();

    /// <summary>One line per request with the status the client got (see <see cref="RequestLog"/>).</summary>
    public static IApplicationBuilder UseSessionGateRequestLogging(this IApplicationBuilder app) => app.UseMiddleware<RequestLog>();

    /// <summary>Believes X-Forwarded-For/-Proto from trusted proxies, when <c>ForwardedHeaders:Enabled</c>.</summary>
    public static IApplicationBuilder UseTrustedForwardedHeaders(this WebApplication app) =>
        app.Services.GetRequiredService<IOptions<ForwardedHeadersSettings>>().Value.Enabled ? app.UseForwardedHeaders() : app;

    /// <summary>NUL-free input, body limits, and the headers every response carries (see <see cref="RequestHygiene"/>).</summary>
    public static IApplicationBuilder UseRequestHygiene(this IApplicationBuilder app) => app.UseMiddleware<RequestHygiene>();
}
