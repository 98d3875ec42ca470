using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using Xunit.Abstractions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>Type-level names for the three modes, so one test class runs once per mode.</summary>
public interface IMode
{
    static abstract AuthMode Value { get; }

    /// <summary>
    /// True when a role change reaches a credential only through a refresh: the old access token is refused with
    /// <c>roles-changed</c> and the refreshed one carries the new roles (Blacklist's self-contained JWT). The other
    /// modes read roles per request, so the same credential sees the change.
    /// </summary>
    static abstract bool RoleChangeNeedsRefresh { get; }

    /// <summary>True when the session rides in the <c>__Host-sid</c> cookie (Opaque): the JWT modes have no session cookie.</summary>
    static abstract bool SessionCookie { get; }

    /// <summary>True in the JWT modes: a login answers an access JWT (the bearer) and a refresh token; Opaque a session id.</summary>
    static abstract bool RefreshTokens { get; }

    /// <summary>
    /// True when the access token carries the session's state itself (Blacklist): its assurance, its enrolment-only
    /// restriction and its roles change only with a new token (a refresh), and the session is not read per request.
    /// </summary>
    static abstract bool SelfContainedAccessToken { get; }
}

public sealed class Opaque : IMode { public static AuthMode Value => AuthMode.Opaque; public static bool RoleChangeNeedsRefresh => false; public static bool SessionCookie => true; public static bool RefreshTokens => false; public static bool SelfContainedAccessToken => false; }
public sealed class Blacklist : IMode { public static AuthMode Value => AuthMode.Blacklist; public static bool RoleChangeNeedsRefresh => true; public static bool SessionCookie => false; public static bool RefreshTokens => true; public static bool SelfContainedAccessToken => true; }
public sealed class SessionCache : IMode { public static AuthMode Value => AuthMode.SessionCache; public static bool RoleChangeNeedsRefresh => false; public static bool SessionCookie => false; public static bool RefreshTokens => true; public static bool SelfContainedAccessToken => false; }

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

/// <summary>
/// The in-memory test server has no socket, so no remote address: give every request the loopback address a local
/// client would have. With <c>ForwardedHeaders:Enabled</c>, a test then picks its client address with
/// X-Forwarded-For, exactly as a trusted local proxy would set it.
/// </summary>
public sealed class LoopbackConnection : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            context.Connection.RemoteIpAddress ??= IPAddress.Loopback;
            return nextMiddleware(context);
        });
        next(app);
    };
}

public class AppFixture<TMode> : IAsyncLifetime where TMode : IMode
{
    public const string AdminPassword = "platform-password-123";
    public const string DemoPassword = "demo-password-123";

    private readonly List<WebApplicationFactory<Program>> _extra = [];
    private Login? _alice;
    private Login? _platform;
    private DateTimeOffset _adminLoggedInAt;

    public AuthMode Mode => TMode.Value;
    public string Database { get; private set; } = "";
    public string Prefix { get; } = "t" + Guid.NewGuid().ToString("N")[..10] + ":";
    public LogSink Logs { get; } = new();
    public SessionGateFactory Factory { get; private set; } = null!;
    public ApiClient Api { get; protected set; } = null!;

    /// <summary>The Redis this fixture's app uses (a single node unless a fixture says otherwise).</summary>
    public virtual string RedisConfiguration => TestEnvironment.Redis;

    /// <summary>How long the cached admin logins are reused (short-lived fixtures log in afresh).</summary>
    protected virtual TimeSpan AdminLoginReuse => TimeSpan.FromMinutes(5);

    protected virtual void Configure(IDictionary<string, string?> settings)
    {
    }

    /// <summary>Extra services for this fixture's app (a telemetry exporter, say); never a stand-in for a real part.</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    public Dictionary<string, string?> Settings()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Postgres"] = TestEnvironment.ConnectionFor(Database),
            // The suite runs dozens of hosts on two busy cores: a second, not the shipped half, before a command times out.
            ["Redis:Configuration"] = RedisConfiguration + ",asyncTimeout=1000,syncTimeout=1000",
            ["Redis:KeyPrefix"] = Prefix,
            ["ForwardedHeaders:Enabled"] = "true",
            // The suite runs many hosts on two busy cores: logins may wait long for a hashing worker here.
            ["PasswordHashing:MaxWait"] = "00:01:00",
            ["Auth:Mode"] = Mode.ToString(),
            ["Database:MigrateOnStart"] = "false",
            ["Bootstrap:AdminPassword"] = AdminPassword,
            ["Demo:Seed"] = "true",
            ["Demo:Password"] = DemoPassword,
            ["LoginLimits:MaxFailuresPerAccount"] = "1000",
            ["LoginLimits:MaxFailuresPerAccountAndAddress"] = "1000",
            ["LoginLimits:MaxFailuresPerIp"] = "100000",
            ["LoginLimits:RequestsPerMinutePerIp"] = "100000",
            // The request rate limits are lifted like the login limits: tests send bursts from one address and session.
            ["RateLimits:PerSessionPerSecond"] = "0",
            ["RateLimits:StateChangesPerSessionPerSecond"] = "0",
            ["RateLimits:PerAddressPerSecond"] = "0",
            ["Session:SlidingWriteInterval"] = "00:00:01",
        };
        Configure(settings);
        return settings;
    }

    public virtual async Task InitializeAsync()
    {
        Database = await TestDatabase.CreateAsync();
        Factory = new SessionGateFactory(Settings(), Logs, ConfigureServices);
        Api = new ApiClient(Factory, Mode);
    }

    /// <summary>Another instance of the app on the same database and Redis, with some settings changed.</summary>
    public ApiClient AnotherInstance(Action<Dictionary<string, string?>> change)
    {
        var settings = Settings();
        change(settings);
        var factory = new SessionGateFactory(settings, Logs);
        _extra.Add(factory);
        return new ApiClient(factory, Mode);
    }

    public virtual async Task DisposeAsync()
    {
        foreach (var f in _extra) await f.DisposeAsync();
        await Factory.DisposeAsync();
        await TestDatabase.DropAsync(Database);
    }

    public void Attach(ITestOutputHelper output) => Logs.Output = output;

    /// <summary>alice: the demo tenant admin of acme.</summary>
    public async Task<Login> AliceAsync()
    {
        if (_alice is null || DateTimeOffset.UtcNow - _adminLoggedInAt > AdminLoginReuse)
        {
            _alice = await Api.LoginAsync("acme", "alice", DemoPassword);
            _adminLoggedInAt = DateTimeOffset.UtcNow;
        }
        return _alice;
    }

    /// <summary>admin: the platform admin of tenant system.</summary>
    public async Task<Login> PlatformAdminAsync()
    {
        if (_platform is null || DateTimeOffset.UtcNow - _adminLoggedInAt > AdminLoginReuse)
        {
            _platform = await Api.LoginAsync("system", "admin", AdminPassword);
            _adminLoggedInAt = DateTimeOffset.UtcNow;
        }
        return _platform;
    }

    /// <summary>Creates a fresh user through the admin API (in acme, or in another tenant as platform admin).</summary>
    public async Task<TestUser> NewUserAsync(string[]? roles = null, string? tenant = null)
    {
        var username = "u" + Guid.NewGuid().ToString("N")[..12];
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var admin = tenant is null ? await AliceAsync() : await PlatformAdminAsync();
        var url = tenant is null ? "/admin/users" : $"/admin/users?tenant={tenant}";
        var response = await Api.SendAsync(HttpMethod.Post, url, admin, new { username, password, roles = roles ?? [] });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"create user: {response.StatusCode} {body}");
        var id = JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid();
        return new TestUser(id, tenant ?? "acme", username, password);
    }

    /// <summary>Creates a fresh tenant (as platform admin) with a role that holds the given permissions.</summary>
    public async Task<string> NewTenantAsync()
    {
        var slug = "t" + Guid.NewGuid().ToString("N")[..10];
        var admin = await PlatformAdminAsync();
        var r = await Api.SendAsync(HttpMethod.Post, "/admin/tenants", admin, new { slug, name = "Test " + slug });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return slug;
    }
}

public sealed record TestUser(Guid Id, string Tenant, string Username, string Password);

public sealed record Login(string Bearer, string? Refresh, string? Cookie, JsonElement Body);

/// <summary>Talks to the app over HTTP exactly as a client would; cookies are only sent when a test says so.</summary>
public sealed class ApiClient
{
    private readonly AuthMode _mode;
    private readonly Uri? _baseAddress;
    private HttpClient? _http;

    /// <param name="factory">The app.</param>
    /// <param name="mode">Its mode.</param>
    /// <param name="baseAddress">Where the app listens when it runs on a real Kestrel port (default: the in-memory server).</param>
    public ApiClient(WebApplicationFactory<Program> factory, AuthMode mode, Uri? baseAddress = null)
    {
        Factory = factory;
        _mode = mode;
        _baseAddress = baseAddress;
    }

    public WebApplicationFactory<Program> Factory { get; }

    // Created on first use, which is when the app starts.
    // The factory's base address: a Kestrel-hosted factory points it at its real port.
    public HttpClient Http => _http ??= Factory.CreateClient(new WebApplicationFactoryClientOptions
        { BaseAddress = _baseAddress ?? Factory.ClientOptions.BaseAddress, HandleCookies = false, AllowAutoRedirect = false });

    private HttpClient? _management;

    /// <summary>
    /// Requests that arrive on the management listener (a port of <c>Management:Urls</c>), as a local Prometheus sends
    /// them: the in-memory server has no socket, so the connection's local port is set as Kestrel would set it.
    /// </summary>
    public HttpClient Management => _management ??= ManagementClient(Factory);

    public static HttpClient ManagementClient(WebApplicationFactory<Program> factory)
    {
        var port = factory.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ManagementOptions>>().Value.Ports().FirstOrDefault();
        return new HttpClient(factory.Server.CreateHandler(c => c.Connection.LocalPort = port))
        {
            BaseAddress = new Uri($"http://127.0.0.1:{(port == 0 ? 80 : port)}/"),
        };
    }

    public Task<HttpResponseMessage> LoginRawAsync(object body) => Http.PostAsJsonAsync("/auth/login", body);

    /// <summary>A login from a given client address (through the trusted-proxy header).</summary>
    public Task<HttpResponseMessage> LoginFromAsync(string address, object body) =>
        SendAsync(HttpMethod.Post, "/auth/login", body: body, configure: r => r.Headers.Add("X-Forwarded-For", address));

    public Task<Login> LoginAsync(TestUser user, string device = "web") => LoginAsync(user.Tenant, user.Username, user.Password, device);

    public async Task<Login> LoginAsync(string tenant, string username, string password, string device = "web")
    {
        var response = await LoginRawAsync(new { tenant, username, password, device_type = device });
        return await ReadLoginAsync(response);
    }

    public static async Task<Login> ReadLoginAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"login: {response.StatusCode} {text}");
        var json = JsonDocument.Parse(text).RootElement.Clone();
        var bearer = json.TryGetProperty("session_id", out var sid) ? sid.GetString()! : json.GetProperty("access_token").GetString()!;
        var refresh = json.TryGetProperty("refresh_token", out var rt) ? rt.GetString() : null;
        string? cookie = null;
        if (response.Headers.TryGetValues("Set-Cookie", out var cookies))
            cookie = cookies.Select(c => c.Split(';')[0]).FirstOrDefault(c => c.StartsWith("__Host-sid=", StringComparison.Ordinal));
        return new Login(bearer, refresh, cookie, json);
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, Login? caller = null, object? body = null,
        Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (caller is not null) request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + caller.Bearer);
        if (body is not null) request.Content = JsonContent.Create(body);
        configure?.Invoke(request);
        return await Http.SendAsync(request);
    }

    public Task<HttpResponseMessage> GetAsync(string url, Login? caller = null) => SendAsync(HttpMethod.Get, url, caller);

    private static readonly JsonSerializerOptions Strict = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>GET /auth/me as the test's own record of the contract: a member added, renamed or dropped fails here.</summary>
    public async Task<Me> MeAsync(Login caller)
    {
        var response = await GetAsync("/auth/me", caller);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET /auth/me: {response.StatusCode} {text}");
        return JsonSerializer.Deserialize<Me>(text, Strict)!;
    }

    public async Task<JsonElement> GetJsonAsync(string url, Login? caller)
    {
        var response = await GetAsync(url, caller);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<Login> RefreshAsync(Login login)
    {
        var response = await Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
        return await ReadLoginAsync(response);
    }

    public bool IsJwtMode => _mode != AuthMode.Opaque;
}

/// <summary>GET /auth/me, as API.md defines it.</summary>
public sealed record Me(Guid UserId, string Tenant, string Username, string[] Roles, string[] Permissions, MeSession Session);

public sealed record MeSession(Guid Id, string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, string Acr, string[] Amr, DateTimeOffset AuthTime);

/// <summary>An RFC 9457 problem as SessionGate writes it: the standard members and the extensions it may add.</summary>
public sealed record ProblemDocument(
    string Type, string Title, int Status, string? Detail, string? Instance, string? TraceId,
    string? Reason, string? Field, string[]? RequiredPermissions, Dictionary<string, string>? Checks,
    string? MfaToken = null, string[]? Methods = null, int? ExpiresIn = null, string? AcrValues = null, long? MaxAge = null);

public static class Problem
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow };

    /// <summary>
    /// Asserts the whole problem document: status and content type, the stable type with the catalog's title for it,
    /// the reason when one is expected, no member beyond those SessionGate defines, and nothing
    /// internal (no stack trace, exception name or SQL).
    /// </summary>
    public static async Task<ProblemDocument> AssertAsync(HttpResponseMessage response, HttpStatusCode status, string type, string? reason = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status} {type}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        ProblemDocument problem;
        try
        {
            problem = JsonSerializer.Deserialize<ProblemDocument>(body, Json)!;
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"not a SessionGate problem document ({e.Message}): {body}");
        }
        Assert.Equal(Problems.TypeUri(type), problem.Type);
        Assert.Equal(Problems.TitleOf(type), problem.Title);
        Assert.Equal((int)status, problem.Status);
        if (reason is not null) Assert.Equal(reason, problem.Reason);
        Assert.True(problem.TraceId is null || problem.TraceId.Length > 0, "trace_id, when present, is not empty");
        if (status == HttpStatusCode.ServiceUnavailable && type == Problems.ServiceUnavailable)
            Assert.True(response.Headers.RetryAfter is not null, $"a 503 says when to retry: {body}");
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.DoesNotContain(".cs:line", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
        Assert.DoesNotContain("SELECT", body, StringComparison.Ordinal);
        return problem;
    }
}

public static class Eventually
{
    /// <summary>Repeats <paramref name="send"/> until it answers <paramref name="status"/>; fails after <paramref name="within"/>.</summary>
    public static async Task<HttpResponseMessage> StatusAsync(Func<Task<HttpResponseMessage>> send, HttpStatusCode status, TimeSpan within)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            var response = await send();
            if (response.StatusCode == status) return response;
            if (DateTimeOffset.UtcNow > deadline)
                Assert.Fail($"expected {(int)status} within {within.TotalSeconds} s; still {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Repeats <paramref name="send"/> while it answers 503 (a dependency coming back); fails after <paramref name="within"/>.</summary>
    public static async Task<HttpResponseMessage> AnsweredAsync(Func<Task<HttpResponseMessage>> send, TimeSpan within)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable) return response;
            if (DateTimeOffset.UtcNow > deadline) Assert.Fail($"still 503 after {within.TotalSeconds} s: {await response.Content.ReadAsStringAsync()}");
            await Task.Delay(50);
        }
    }
}
