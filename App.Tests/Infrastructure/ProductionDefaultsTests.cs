using System.Net;
using Microsoft.Extensions.Configuration;
using SessionGate.Audit;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>The repository's appsettings.json as shipped (the fixtures override some of it, so these read the file).</summary>
public sealed class ShippedDefaultsTests
{
    private static readonly IConfiguration Shipped = new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: false).Build();

    [Fact]
    public void Management_endpoints_are_on_a_loopback_listener_of_their_own()
    {
        Assert.Equal(ManagementOptions.DefaultUrls, Shipped["Management:Urls"]);
        Assert.Equal(ManagementOptions.DefaultUrls, new ManagementOptions().Urls);
    }

    [Fact]
    public void Hsts_lasts_a_year_and_only_named_hosts_are_answered()
    {
        Assert.True(Shipped.GetSection("Hsts").Get<HstsSettings>()!.MaxAge >= TimeSpan.FromDays(365));
        Assert.True(new HstsSettings().MaxAge >= TimeSpan.FromDays(365));
        var hosts = Shipped["AllowedHosts"]!.Split(';');
        Assert.DoesNotContain("*", hosts);
        Assert.Equal(["localhost", "127.0.0.1", "[::1]"], hosts);
    }

    [Fact]
    public void No_password_ships_and_no_demo_is_seeded()
    {
        Assert.True(string.IsNullOrEmpty(Shipped["Bootstrap:AdminPassword"]));
        Assert.False(Shipped.GetValue<bool>("Demo:Seed"));
        Assert.True(string.IsNullOrEmpty(Shipped["Demo:Password"]));
        Assert.DoesNotContain("Password=sessiongate", Shipped["ConnectionStrings:Postgres"], StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void A_routine_session_id_key_rotation_ends_no_session_and_audit_events_are_kept_a_year()
    {
        var key = Shipped.GetSection("SessionIdKey").Get<SessionIdKeyOptions>()!;
        Assert.True(key.Overlap >= Shipped.GetValue<TimeSpan>("Session:AbsoluteTimeout"));
        Assert.True(key.ActivationDelay >= 2 * SessionSecrets.ReloadInterval);
        Assert.Equal(TimeSpan.FromDays(365), Shipped.GetSection("Audit").Get<AuditOptions>()!.Retention);
    }
}

/// <summary>A production-like start: named hosts only, behind a TLS-terminating proxy (X-Forwarded-Proto).</summary>
public sealed class NamedHostFixture : AppFixture<Opaque>
{
    protected override void Configure(IDictionary<string, string?> settings) => settings["AllowedHosts"] = "localhost;auth.example.test";
}

public sealed class HostAndHstsTests(NamedHostFixture fx) : IClassFixture<NamedHostFixture>
{
    private Task<HttpResponseMessage> GetAsync(string host, string? proto = null) => fx.Api.SendAsync(HttpMethod.Get, "/health/live", configure: r =>
    {
        r.Headers.Host = host;
        if (proto is not null) r.Headers.Add("X-Forwarded-Proto", proto);
    });

    [Fact]
    public async Task Https_responses_carry_hsts_for_a_year()
    {
        var response = await GetAsync("auth.example.test", "https");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("max-age=31536000", Assert.Single(response.Headers.GetValues("Strict-Transport-Security")));
        Assert.False((await GetAsync("auth.example.test")).Headers.Contains("Strict-Transport-Security"), "never on plain HTTP");
    }

    [Fact]
    public async Task A_host_not_in_allowed_hosts_is_refused()
    {
        Assert.Equal(HttpStatusCode.BadRequest, (await GetAsync("evil.example", "https")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("auth.example.test:8443")).StatusCode);
    }
}

/// <summary>A production start without Bootstrap or demo settings.</summary>
public sealed class BareFixture : AppFixture<Opaque>
{
    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Bootstrap:AdminPassword"] = "";
        settings["Demo:Seed"] = "false";
        settings["Demo:Password"] = "";
    }
}

public sealed class NoDemoTests(BareFixture fx) : IClassFixture<BareFixture>
{
    [Fact]
    public async Task Without_bootstrap_or_demo_settings_no_demo_password_shows_anywhere()
    {
        var doc = await fx.Api.GetAsync("/swagger/v1/swagger.json");
        Assert.Equal(HttpStatusCode.OK, doc.StatusCode);
        var text = await doc.Content.ReadAsStringAsync();
        Assert.DoesNotContain(AppFixture<Opaque>.DemoPassword, text, StringComparison.Ordinal);
        Assert.DoesNotContain(AppFixture<Opaque>.AdminPassword, text, StringComparison.Ordinal);
        Assert.Contains("\"password\": \"\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("DEMO", fx.Logs.All, StringComparison.Ordinal);
        await Problem.AssertAsync(await fx.Api.LoginRawAsync(new { tenant = "acme", username = "bob", password = AppFixture<Opaque>.DemoPassword }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
    }
}

public sealed class DemoWarningTests(AppFixture<Opaque> fx) : IClassFixture<AppFixture<Opaque>>
{
    [Fact]
    public async Task A_seeded_demo_says_so_at_start()
    {
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/health/live")).StatusCode);
        Assert.Contains("DEMO: the demo tenant is seeded with a known password", fx.Logs.All, StringComparison.Ordinal);
    }
}
