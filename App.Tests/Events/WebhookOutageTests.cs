using System.Net;
using Npgsql;
using SessionGate.Tests.AdminConsole;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Events;

/// <summary>The app reaches PostgreSQL through a <see cref="TcpProxy"/> of its own, and sends webhooks to a real receiver.</summary>
public sealed class WebhookPostgresOutageFixture : WebhookFixture<Opaque>
{
    public TcpProxy Postgres { get; private set; } = null!;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        base.Configure(settings);
        var direct = new NpgsqlConnectionStringBuilder(settings["ConnectionStrings:Postgres"]);
        settings["ConnectionStrings:Postgres"] = new NpgsqlConnectionStringBuilder(direct.ConnectionString) { Host = "127.0.0.1", Port = Postgres.Port }.ConnectionString;
        settings["Webhooks:AttemptTimeout"] = "00:00:01";
    }

    public override async Task InitializeAsync()
    {
        var direct = new NpgsqlConnectionStringBuilder(TestEnvironment.Postgres);
        Postgres = new TcpProxy(direct.Host ?? "127.0.0.1", direct.Port);
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        Postgres.Restore();
        await base.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}

public sealed class WebhookOutageTests : IClassFixture<WebhookPostgresOutageFixture>
{
    private readonly WebhookPostgresOutageFixture _fx;
    private readonly ITestOutputHelper _output;

    public WebhookOutageTests(WebhookPostgresOutageFixture fx, ITestOutputHelper output)
    {
        _fx = fx;
        _output = output;
        fx.Attach(output);
    }

    [Fact]
    public async Task Through_a_PostgreSQL_outage_every_committed_event_arrives_and_repeats_are_counted()
    {
        var (tenant, admin) = await _fx.TenantAsync();
        var (hookId, secret) = await _fx.RegisterAsync(tenant, "/pg-outage", ["session.ended"]);
        async Task<Paged<Delivery>> DeliveriesAsync() =>
            await (await _fx.Api.GetAsync($"/admin/webhooks/{hookId}/deliveries?tenant={tenant}&size=100", admin)).ReadAsync<Paged<Delivery>>();
        var logins = new List<(Login Login, Guid Id)>();
        for (var u = 0; u < 3; u++)
        {
            var user = await _fx.NewUserAsync(tenant: tenant);
            for (var i = 0; i < 3; i++)
            {
                var login = await _fx.Api.LoginAsync(user);
                logins.Add((login, (await _fx.Api.MeAsync(login)).Session.Id));
            }
        }

        // The receiver is down when the logouts commit, so their deliveries are pending (attempts failing, recorded in
        // PostgreSQL) when PostgreSQL goes away too; the receiver comes back while PostgreSQL is still away.
        _fx.Receiver.Proxy.Cut();
        var answered = await Task.WhenAll(logins.Select(async l => (l.Id, (await _fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", l.Login)).StatusCode)));
        // Each user's first delivery is attempted (the others wait behind it, in order) and fails.
        await Eventually.ThatAsync(DeliveriesAsync, log => log.Total == logins.Count && log.Items.Count(d => d.LastError is not null) >= 3,
            TimeSpan.FromSeconds(20), "each user's first attempt failing");
        _fx.Postgres.Cut();
        _fx.Receiver.Proxy.Restore();
        await Task.Delay(TimeSpan.FromSeconds(2)); // the outage itself: attempts in flight lose their outcome
        _fx.Postgres.Restore();

        var committed = answered.Where(a => a.StatusCode == HttpStatusCode.NoContent).Select(a => a.Id).ToHashSet();
        Assert.Equal(logins.Count, committed.Count);
        var got = await _fx.Receiver.WaitAsync("/pg-outage",
            r => committed.All(id => r.Select(x => Delivered.Verify(x, secret)).Any(d => d.SessionId == id)), TimeSpan.FromSeconds(45), "every committed logout");
        // Leases of attempts whose outcome was lost run out (on the app's clock) and are sent again, until every delivery succeeded.
        _fx.Clock.Skip(TimeSpan.FromSeconds(8));
        await Eventually.ThatAsync(DeliveriesAsync, log => log.Items.All(d => d.Status == "succeeded"), TimeSpan.FromSeconds(30), "every delivery succeeded");
        var all = _fx.Receiver.At("/pg-outage").Select(x => Delivered.Verify(x, secret)).ToList();
        var repeats = all.Count - all.Select(d => d.Id).Distinct().Count();
        _output.WriteLine($"{all.Count} deliveries, {all.Select(d => d.Id).Distinct().Count()} events, {repeats} repeats");
        // Nothing for a session that did not end; each event once per id, plus at most one repeat per attempt in flight.
        Assert.All(all, d => Assert.Contains(d.SessionId!.Value, logins.Select(l => l.Id)));
        Assert.All(all.GroupBy(d => d.Id), g => Assert.Single(g.Select(d => d.SessionId).Distinct()));
        Assert.True(repeats <= logins.Count, $"{repeats} repeats");
        Assert.True(committed.Count <= all.Select(d => d.Id).Distinct().Count());
    }
}
