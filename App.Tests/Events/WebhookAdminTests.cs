using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Data;
using SessionGate.Events;
using SessionGate.Infrastructure;
using SessionGate.Tests.AdminConsole;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Events;

/// <summary>The shipped address rules (<c>Webhooks:AllowPrivateNetworks</c> off), with a receiver on loopback that must never be reached.</summary>
public sealed class PublicOnlyWebhookFixture : AppFixture<Opaque>
{
    public TestReceiver Receiver { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Webhooks:RetrySchedule"] = "00:00:00.2";
        settings["Webhooks:PollInterval"] = "00:00:00.2";
        settings["Webhooks:MaxEndpointsPerTenant"] = "3";
    }

    public override async Task InitializeAsync()
    {
        Receiver = await TestReceiver.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Receiver.DisposeAsync();
    }
}

/// <summary>The admin API of webhooks: tenancy, secrets shown once, rotation, and the refusals that keep receivers outside the network.</summary>
public sealed class WebhookAdminTests : IClassFixture<PublicOnlyWebhookFixture>
{
    private readonly PublicOnlyWebhookFixture _fx;

    public WebhookAdminTests(PublicOnlyWebhookFixture fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    [Theory]
    [InlineData("http://hooks.example.com/in", "https")]
    [InlineData("https://127.0.0.1/in", "private")]
    [InlineData("https://[::1]:8443/in", "private")]
    [InlineData("https://10.1.2.3/in", "private")]
    [InlineData("https://192.168.0.10/in", "private")]
    [InlineData("https://172.20.0.1/in", "private")]
    [InlineData("https://169.254.169.254/latest/meta-data", "private")]
    [InlineData("https://[::ffff:127.0.0.1]/in", "private")]
    [InlineData("https://[fd00::1]/in", "private")]
    [InlineData("https://0.0.0.0/in", "private")]
    [InlineData("https://localhost/in", "private")]
    [InlineData("https://api.localhost./in", "private")]
    [InlineData("https://intranet/in", "private")]
    [InlineData("https://user:pw@hooks.example.com/in", "user name")]
    [InlineData("ftp://hooks.example.com/in", "https")]
    [InlineData("/relative", "absolute")]
    public async Task Receivers_must_be_https_on_a_public_address(string url, string says)
    {
        var alice = await _fx.AliceAsync();
        var response = await _fx.Api.SendAsync(HttpMethod.Post, "/admin/webhooks", alice, new { url, events = new[] { "session.ended" } });
        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal("url", problem.Field);
        Assert.Contains(says, problem.Detail);
    }

    private async Task<Webhook[]> ListAsync(Login admin) => await (await _fx.Api.GetAsync("/admin/webhooks", admin)).ReadAsync<Webhook[]>();

    [Fact]
    public async Task Bad_registrations_are_refused_and_change_nothing()
    {
        var alice = await _fx.AliceAsync();
        var before = (await ListAsync(alice)).Length;
        foreach (var (body, field) in new (object Body, string? Field)[]
                 {
                     (new { url = "https://hooks.example.com/in", events = new[] { "session.exploded" } }, "events"),
                     (new { url = "https://hooks.example.com/in", format = "soap" }, "format"),
                     (new { url = "https://hooks.example.com/in", events = new[] { "user.banned" }, format = "caep" }, "events"),
                 })
        {
            var problem = await Problem.AssertAsync(await _fx.Api.SendAsync(HttpMethod.Post, "/admin/webhooks", alice, body), HttpStatusCode.BadRequest, Problems.Validation);
            Assert.Equal(field, problem.Field);
        }
        var unknownMember = await _fx.Api.SendAsync(HttpMethod.Post, "/admin/webhooks", alice, new { url = "https://hooks.example.com/in", secret = "mine" });
        await Problem.AssertAsync(unknownMember, HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal(before, (await ListAsync(alice)).Length);

        var bob = await _fx.Api.LoginAsync("acme", "bob", AppFixture<Opaque>.DemoPassword);
        await Problem.AssertAsync(await _fx.Api.GetAsync("/admin/webhooks", bob), HttpStatusCode.Forbidden, Problems.Forbidden);
        await Problem.AssertAsync(await _fx.Api.GetAsync("/admin/webhooks"), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
    }

    [Fact]
    public async Task The_secret_is_shown_once_endpoints_stay_in_their_tenant_and_a_rotation_shows_the_new_one_once()
    {
        var alice = await _fx.AliceAsync();
        var platform = await _fx.PlatformAdminAsync();
        var created = await _fx.Api.SendAsync(HttpMethod.Post, "/admin/webhooks", alice, new { url = "https://hooks.example.com/sessions" });
        var body = await created.ReadAsync<WebhookCreated>(HttpStatusCode.Created);
        var (id, secret) = (body.Id, body.Secret);
        Assert.StartsWith("whsec_", secret);
        Assert.Equal($"/admin/webhooks/{id}", created.Headers.Location!.OriginalString);
        Assert.Equal(EventTypes.All, body.Events);

        // Listed without its secret (the shape has no member for one).
        var one = (await ListAsync(alice)).Single(w => w.Id == id);
        Assert.True(one.Enabled);
        Assert.Equal("standard-webhooks", one.Format);
        // Another tenant's admin sees it as if it did not exist.
        var other = await _fx.NewTenantAsync();
        await Problem.AssertAsync(await _fx.Api.GetAsync($"/admin/webhooks/{id}?tenant={other}", platform), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await _fx.Api.SendAsync(HttpMethod.Delete, $"/admin/webhooks/{id}?tenant={other}", platform), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await _fx.Api.GetAsync($"/admin/webhooks/{id}/deliveries?tenant={other}", platform), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync($"/admin/webhooks/{id}?tenant=acme", platform)).StatusCode);

        var fresh = await (await _fx.Api.SendAsync(HttpMethod.Post, $"/admin/webhooks/{id}/secret", alice)).ReadAsync<WebhookSecret>();
        Assert.NotEqual(secret, fresh.Secret);
        Assert.True(fresh.PreviousSecretValidUntil > DateTimeOffset.UtcNow.AddHours(23));
        var audit = await (await _fx.Api.GetAsync("/admin/audit?type=webhook.secret-rotated", alice)).Content.ReadAsStringAsync();
        Assert.Equal(1, System.Text.Json.JsonDocument.Parse(audit).RootElement.As<Paged<AuditEntry>>().Total);
        Assert.DoesNotContain(secret, audit);
        Assert.DoesNotContain(fresh.Secret, audit);

        Assert.Equal(HttpStatusCode.NoContent, (await _fx.Api.SendAsync(HttpMethod.Delete, $"/admin/webhooks/{id}", alice)).StatusCode);
        await Problem.AssertAsync(await _fx.Api.GetAsync($"/admin/webhooks/{id}", alice), HttpStatusCode.NotFound, Problems.NotFound);
        await Problem.AssertAsync(await _fx.Api.SendAsync(HttpMethod.Post, $"/admin/webhooks/{id}/deliveries/1/retry", alice), HttpStatusCode.NotFound, Problems.NotFound);
        // Secrets never reach the log.
        Assert.DoesNotContain(secret, _fx.Logs.All);
    }

    [Fact]
    public async Task A_tenant_has_a_bounded_number_of_endpoints()
    {
        var tenant = await _fx.NewTenantAsync();
        var platform = await _fx.PlatformAdminAsync();
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.Created, (await _fx.Api.SendAsync(HttpMethod.Post, $"/admin/webhooks?tenant={tenant}", platform,
                new { url = $"https://hooks.example.com/{i}" })).StatusCode);
        await Problem.AssertAsync(await _fx.Api.SendAsync(HttpMethod.Post, $"/admin/webhooks?tenant={tenant}", platform, new { url = "https://hooks.example.com/4" }),
            HttpStatusCode.BadRequest, Problems.Validation);
    }

    [Fact]
    public async Task A_receiver_whose_name_resolves_inside_the_network_is_refused_at_send_time()
    {
        // As if the name had resolved to a public address when it was registered and to loopback now (DNS rebinding).
        var tenant = await _fx.NewTenantAsync();
        var platform = await _fx.PlatformAdminAsync();
        var endpointId = Guid.CreateVersion7();
        using (var scope = _fx.Factory.Services.CreateScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AppDbContext>();
            var tenantId = db.Tenants.Single(t => t.Slug == tenant).Id;
            db.Add(new WebhookEndpoint
            {
                Id = endpointId, TenantId = tenantId, Url = $"https://localhost:{_fx.Receiver.Proxy.Port}/rebound", Events = ["session.created"],
                Format = "standard-webhooks", ProtectedSecret = scope.ServiceProvider.GetRequiredService<WebhookSecrets>().Protect(WebhookSecrets.New()),
                CreatedAt = DateTimeOffset.UtcNow,
            });
            await db.SaveChangesAsync();
        }
        await _fx.Api.LoginAsync(await _fx.NewUserAsync(tenant: tenant));
        var log = await Eventually.ThatAsync(
            async () => await (await _fx.Api.GetAsync($"/admin/webhooks/{endpointId}/deliveries?tenant={tenant}", platform)).ReadAsync<Paged<Delivery>>(),
            l => l.Total == 1 && l.Items[0].Status == "failed", TimeSpan.FromSeconds(20), "the delivery failing");
        Assert.Contains("address refused", log.Items[0].LastError);
        Assert.Empty(_fx.Receiver.All);
        Assert.Equal(0, _fx.Receiver.Proxy.Relayed);
    }
}
