using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Serilog;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Gateway;
using SessionGate.Observability;
using SessionGate.Revocation;
using SessionGate.Sessions;
using SessionGate.Tokens;
using StackExchange.Redis;

namespace SessionGate.Infrastructure;

public static class ServiceRegistration
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

    public static IServiceCollection AddSessionGate(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<AuthOptions>().BindConfiguration("Auth").ValidateOnStart();
        services.AddOptions<JwtOptions>().BindConfiguration("Jwt")
            .Validate(o => JwtOptions.Algorithms.Contains(o.Algorithm), "Jwt:Algorithm must be HS256, RS256 or ES256.")
            .Validate(o => o.Algorithm != "HS256" || (o.HmacSecret is not null && Encoding.UTF8.GetByteCount(o.HmacSecret) >= 32),
                "Jwt:HmacSecret must be at least 256 bits (32 bytes) when Jwt:Algorithm is HS256.")
            .Validate(o => o.InternalTokenLifetime > TimeSpan.Zero && o.InternalTokenLifetime <= TimeSpan.FromMinutes(5),
                "Jwt:InternalTokenLifetime must be positive and at most 00:05:00.")
            .Validate(o => o.AccessTokenLifetime > TimeSpan.Zero, "Jwt:AccessTokenLifetime must be positive.")
            .Validate(o => o.PublicOrigin is null || Uri.TryCreate(o.PublicOrigin, UriKind.Absolute, out _), "Jwt:PublicOrigin must be an absolute URL.")
            .Validate(o => o.PerRequestTokenLifetime > TimeSpan.Zero && o.PerRequestTokenLifetime <= TimeSpan.FromSeconds(60),
                "Jwt:PerRequestTokenLifetime must be positive and at most 00:01:00.")
            .Validate(o => o.ClockSkew >= TimeSpan.Zero && o.ClockSkew <= TimeSpan.FromSeconds(30), "Jwt:ClockSkew must be between 0 and 30 seconds.")
            // A downstream that verifies an HS256 internal JWT holds the secret, and could mint access tokens with it.
            .Validate<IConfiguration>((o, c) => o.Algorithm != "HS256" || !c.GetSection("ReverseProxy:Routes").GetChildren().Any(),
                "Jwt:Algorithm HS256 cannot be used with gateway routes (ReverseProxy:Routes): a downstream holding the secret could mint tokens. Use ES256 or RS256.")
            .ValidateOnStart();
        services.AddOptions<SessionLifetimeOptions>().BindConfiguration("Session")
            .Validate(o => o.IdleTimeout > TimeSpan.Zero && o.AbsoluteTimeout > TimeSpan.Zero, "Session:IdleTimeout and Session:AbsoluteTimeout must be positive.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.Cookie.Name), "Session:Cookie:Name is required.")
            .ValidateOnStart();
        services.AddOptions<RedisOptions>().BindConfiguration("Redis").ValidateDataAnnotations()
            .Validate(o => !string.IsNullOrWhiteSpace(o.Configuration), "Redis:Configuration is required.")
            .ValidateOnStart();
        services.AddOptions<LoginLimitOptions>().BindConfiguration("LoginLimits")
            .Validate(o => o.MaxFailuresPerAccount > 0 && o.MaxFailuresPerIp > 0 && o.Window > TimeSpan.Zero && o.RequestsPerMinutePerIp > 0,
                "LoginLimits values must be positive.")
            .ValidateOnStart();
        services.AddOptions<BootstrapOptions>().BindConfiguration("Bootstrap")
            .Validate(o => string.IsNullOrEmpty(o.AdminPassword) || PasswordPolicy.Weakness(o.AdminPassword, "admin") is null,
                "Bootstrap:AdminPassword is too weak (at least 12 characters).")
            .ValidateOnStart();
        services.AddOptions<DemoOptions>().BindConfiguration("Demo");
        services.AddOptions<DatabaseOptions>().BindConfiguration("Database");
        services.AddOptions<ConnectionOptions>()
            .Configure<IConfiguration>((o, c) => o.Postgres = ConnectionOptions.Tune(c.GetConnectionString("Postgres")))
            .Validate(o => !string.IsNullOrWhiteSpace(o.Postgres), "ConnectionStrings:Postgres is required.")
            .ValidateOnStart();

        // One pool of contexts: the singletons on the hot path (modes, relay, sliding writer) take one only on a miss;
        // endpoints get a scoped one from the same pool.
        services.AddPooledDbContextFactory<AppDbContext>((sp, o) => o.UseNpgsql(
            sp.GetRequiredService<IOptions<ConnectionOptions>>().Value.Postgres,
            npgsql => npgsql.MigrationsAssembly(AppDbContext.MigrationsAssembly)));
        services.AddScoped(sp => sp.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContext());
        // The key ring that protects the signing keys lives in PostgreSQL; with a certificate configured it is itself
        // encrypted there, so a copy of the database alone does not yield the keys.
        services.AddDataProtection().SetApplicationName("SessionGate").PersistKeysToDbContext<AppDbContext>();
        DataProtectionCertificate.Register(services);

        services.AddSingleton<IConnectionMultiplexer>(sp => RedisStore.Connect(sp.GetRequiredService<IOptions<RedisOptions>>().Value));
        services.AddSingleton<RedisStore>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<DependencyHealth>();

        // The revocation pipeline: outbox relay, pub/sub invalidation, the L1.
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
        services.AddSingleton<RevocationPipeline>();
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());

        services.Configure<PasswordHasherOptions>(o => o.IterationCount = PasswordPolicy.Iterations);
        services.AddSingleton<IPasswordHasher<User>, PasswordHasher<User>>();
        services.AddSingleton<PasswordPolicy>();
        services.AddOptions<PasswordHashingOptions>().BindConfiguration("PasswordHashing")
            .Validate(o => o.MaxConcurrency >= 0 && o.MaxQueue > 0 && o.MaxWait > TimeSpan.Zero && o.Niceness is >= 0 and <= 19,
                "PasswordHashing:MaxConcurrency must be 0 (one per core) or more, MaxQueue and MaxWait positive, Niceness 0 to 19.")
            .ValidateOnStart();
        services.AddSingleton<PasswordHashing>();
        services.AddOptions<ForwardedHeadersSettings>().BindConfiguration("ForwardedHeaders");
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<ForwardedHeadersSettings>>((o, s) =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            foreach (var proxy in s.Value.KnownProxies) o.KnownProxies.Add(System.Net.IPAddress.Parse(proxy));
            foreach (var network in s.Value.KnownNetworks) o.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network));
        });
        services.AddSingleton<KeyRing>();
        services.AddHostedService(sp => sp.GetRequiredService<KeyRing>());
        services.AddSingleton<TokenService>();
        services.AddSingleton<SessionSecrets>();

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
        services.AddScoped<LoginService>();
        services.AddScoped<AuditLog>();
        services.AddScoped<SessionGate.Admin.AdminContext>();
        services.AddSingleton<SessionJanitor>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionJanitor>());

        services.AddAuthentication(SessionAuthenticationHandler.SchemeName).AddSessionGate();
        services.AddOptions<SessionAuthenticationOptions>(SessionAuthenticationHandler.SchemeName)
            .Configure<IOptions<AuthOptions>, IOptions<SessionLifetimeOptions>>((o, auth, session) =>
            {
                o.Cookie.Name = session.Value.Cookie.Name;
                o.MaxCredentialLength = auth.Value.MaxCredentialLength;
                o.RedisUnavailable = auth.Value.RedisUnavailable;
            });
        services.AddSingleton<Microsoft.AspNetCore.Authorization.IAuthorizationMiddlewareResultHandler, PermissionProblems>();
        var authorization = services.AddAuthorizationBuilder();
        foreach (var permission in Permissions.All.Where(p => p != Permissions.PlatformAdmin))
            authorization.AddPolicy(permission, p => p.RequireAuthenticatedUser().RequireClaim(SessionClaims.Permission, permission));
        authorization.AddPolicy(Permissions.AnyAdmin, p => p.RequireAuthenticatedUser().RequireClaim(SessionClaims.Permission, Permissions.Administrative));
        authorization.AddPolicy(Permissions.RolesList, p => p.RequireAuthenticatedUser().RequireClaim(SessionClaims.Permission, Permissions.RolesRead, Permissions.RolesWrite));
        authorization.AddPolicy(Permissions.LoginPolicyRead, p => p.RequireAuthenticatedUser().RequireClaim(SessionClaims.Permission, Permissions.TenantWrite, Permissions.SessionsRead));
        // platform:admin counts only in the system tenant, whatever a tenant admin writes into its own roles.
        authorization.AddPolicy(Permissions.PlatformAdmin, p => p.RequireAuthenticatedUser()
            .RequireClaim(SessionClaims.Permission, Permissions.PlatformAdmin)
            .RequireClaim(SessionClaims.Tenant, Permissions.PlatformTenant));

        services.AddOptions<RequestLimitOptions>().BindConfiguration("Limits")
            .Validate(o => o.MaxRequestBodySize > 0, "Limits:MaxRequestBodySize must be positive.").ValidateOnStart();
        services.AddSessionGateRateLimits();
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemExceptionHandler.Customize);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        services.AddHealthChecks()
            .AddCheck<PostgresHealthCheck>("postgres", tags: ["ready"])
            .AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            o.SerializerOptions.Converters.Add(new NulFreeStringConverter());
        });
        services.Configure<Microsoft.AspNetCore.Mvc.JsonOptions>(o => o.JsonSerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);
        services.AddSessionGateSwagger();
        services.AddSessionGateGateway(configuration);
        services.AddSessionGateTelemetry(configuration);

        // Each host gets its own logger (the static Log.Logger is left alone), so several instances in one
        // process, as in the tests, never write into each other's sinks.
        services.AddSerilog((sp, log) => log
            .ReadFrom.Configuration(sp.GetRequiredService<IConfiguration>())
            .ReadFrom.Services(sp)
            .Enrich.FromLogContext()
            .WriteTo.Console(formatProvider: System.Globalization.CultureInfo.InvariantCulture),
            preserveStaticLogger: true);
        return services;
    }

    /// <summary>One line per request with the status the client got (see <see cref="RequestLog"/>).</summary>
    public static IApplicationBuilder UseSessionGateRequestLogging(this IApplicationBuilder app) => app.UseMiddleware<RequestLog>();

    /// <summary>Believes X-Forwarded-For/-Proto from trusted proxies, when <c>ForwardedHeaders:Enabled</c>.</summary>
    public static IApplicationBuilder UseTrustedForwardedHeaders(this WebApplication app) =>
        app.Services.GetRequiredService<IOptions<ForwardedHeadersSettings>>().Value.Enabled ? app.UseForwardedHeaders() : app;

    /// <summary>NUL-free input, body limits, and the headers every response carries (see <see cref="RequestHygiene"/>).</summary>
    public static IApplicationBuilder UseRequestHygiene(this IApplicationBuilder app) => app.UseMiddleware<RequestHygiene>();
}

public sealed class ConnectionOptions
{
    public string? Postgres { get; set; }

    /// <summary>
    /// Pooled connections skip the <c>DISCARD ALL</c> that Npgsql sends on every return to the pool (it doubled the
    /// statements of each lookup): the app keeps no session state on a connection (no SET, temp tables or session
    /// locks; its advisory locks are transaction-scoped). An explicit <c>No Reset On Close</c> setting wins.
    /// </summary>
    public static string? Tune(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString)) return connectionString;
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase)) builder.NoResetOnClose = true;
        return builder.ConnectionString;
    }
}
