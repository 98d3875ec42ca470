using System.Net;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SessionGate.Auth;
using SessionGate.Sessions;
using Xunit.Abstractions;

namespace SessionGate.Tests.Infrastructure;

public class AppFixture<TMode> : IAsyncLifetime where TMode : IMode
{
    public const string AdminPassword = "platform-password-123";
    public const string DemoPassword = "demo-password-123";

    private readonly List<WebApplicationFactory<Program>> _extra = [];
    private readonly List<ApiClient> _clients = [];
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

    /// <summary>
    /// False (the default): the app hashes passwords with argon2id at 1 MiB and one pass instead of the shipped 19 MiB
    /// and two, which the app refuses outside the tests (below OWASP's minimum), so the fixture lifts that one check.
    /// The suite signs in thousands of times on two cores; what it tests is which hash is made and when, not what one
    /// costs. Fixtures that test the cost or the shipped parameters say true.
    /// </summary>
    protected virtual bool ShippedPasswordHashing => false;

    /// <summary>
    /// True when this fixture's app reads a <see cref="TestClock"/> rather than the system clock, so its tests move time
    /// instead of sleeping. Off by default: other fixtures keep real time.
    /// </summary>
    protected virtual bool UsesTestClock => false;

    /// <summary>The app's clock when <see cref="UsesTestClock"/>; null on real time.</summary>
    public TestClock? Clock { get; private set; }

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
        if (!ShippedPasswordHashing)
        {
            settings["PasswordHashing:Argon2MemoryKiB"] = "1024";
            settings["PasswordHashing:Argon2Iterations"] = "1";
        }
        Configure(settings);
        return settings;
    }

    public virtual async Task InitializeAsync()
    {
        Database = await TestDatabase.CreateAsync();
        if (UsesTestClock) Clock = new TestClock();
        Factory = new SessionGateFactory(Settings(), Logs, services =>
        {
            UseTestParts(services);
            ConfigureServices(services);
        });
        Api = new ApiClient(Factory);
        _clients.Add(Api);
    }

    /// <summary>An instance of the app on this fixture's database and Redis that the caller starts and disposes.</summary>
    public SessionGateFactory NewFactory(Dictionary<string, string?>? settings = null) => new(settings ?? Settings(), Logs, UseTestParts);

    /// <summary>Another instance of the app on the same database and Redis, with some settings changed.</summary>
    public ApiClient AnotherInstance(Action<Dictionary<string, string?>> change)
    {
        var settings = Settings();
        change(settings);
        var factory = NewFactory(settings);
        _extra.Add(factory);
        var client = new ApiClient(factory);
        _clients.Add(client);
        return client;
    }

    /// <summary>This fixture's app and every instance of <see cref="AnotherInstance"/> that has started (and not failed to).</summary>
    public IEnumerable<WebApplicationFactory<Program>> Instances => [Factory, .. _clients.Skip(1).Where(c => c.Started).Select(c => c.Factory)];

    public virtual async Task DisposeAsync()
    {
        foreach (var f in _extra) await f.DisposeAsync();
        await Factory.DisposeAsync();
        await TestDatabase.DropAsync(Database);
        if (Clock is not null) await Clock.DisposeAsync();
    }

    // Every instance of one fixture reads the same clock, as instances of one deployment read the same time.
    // The test clock, and the cheap password hashing (ShippedPasswordHashing).
    private void UseTestParts(IServiceCollection services)
    {
        if (Clock is not null) services.AddSingleton<TimeProvider>(Clock.Time);
        if (!ShippedPasswordHashing) services.RemoveAll<IValidateOptions<PasswordHashingOptions>>();
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
        var created = await response.ReadAsync<AdminUser>(HttpStatusCode.Created);
        return new TestUser(created.Id, tenant ?? "acme", username, password);
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
