using System.Net;
using Npgsql;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Admin;

public sealed class AuditTests_Opaque(AppFixture<Opaque> fx) : AuditTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class AuditTests_Blacklist(AppFixture<Blacklist> fx) : AuditTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class AuditTests_SessionCache(AppFixture<SessionCache> fx) : AuditTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

public abstract class AuditTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_full_scenario_leaves_an_audit_trail_without_secrets()
    {
        var api = fx.Api;
        var alice = await fx.AliceAsync();
        var aliceId = (await api.MeAsync(alice)).UserId;
        var user = await fx.NewUserAsync(["user"]);
        var login = await api.LoginAsync(user);
        await api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = "wrong-password-123" });
        await api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", alice, new { roles = new[] { "reporter" } });
        var sid = Assert.Single((await api.GetAsync<ListPage<AdminSession>>("/admin/sessions?user_id=" + user.Id, alice)).Items).Id;
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{sid}", alice)).StatusCode);
        await api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", alice, new { reason = "scenario" });

        var response = await api.GetAsync($"/admin/audit?user_id={user.Id}&size=100", alice);
        var events = (await response.ReadAsync<ListPage<AuditEvent>>()).Items;
        var types = events.Select(e => e.Type).ToList();
        foreach (var expected in new[] { "user.created", "login.succeeded", "login.failed", "user.roles-changed", "session.kicked", "user.banned" })
            Assert.Contains(expected, types);
        Assert.True(types.IndexOf("user.banned") < types.IndexOf("login.succeeded"), "newest first");
        Assert.All(events, e =>
        {
            Assert.Equal("acme", e.Tenant);
            Assert.True(e.At > DateTimeOffset.UtcNow.AddMinutes(-5));
            Assert.Equal(user.Id, e.SubjectId);
        });
        Assert.Equal(aliceId, events.First(e => e.Type == "user.banned").ActorId);
        Assert.Equal(aliceId, events.First(e => e.Type == "session.kicked").ActorId);
        Assert.Equal(sid, events.First(e => e.Type == "session.kicked").SessionId);
        var raw = await response.Content.ReadAsStringAsync();
        Assert.DoesNotContain(user.Password, raw);
        Assert.DoesNotContain("wrong-password-123", raw);
        Assert.DoesNotContain(login.Bearer, raw);

        var filtered = await api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&type=login.failed", alice);
        Assert.Equal(1, filtered.Total);
        Assert.Equal("login.failed", Assert.Single(filtered.Items).Type);
        var paged = await api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&size=2&page=2", alice);
        Assert.Equal(events.Skip(2).Take(2).Select(e => e.Id), paged.Items.Select(e => e.Id));
        Assert.Equal(events.Length, paged.Total);
    }

    [Fact]
    public async Task The_platform_admin_reads_events_of_no_tenant_and_no_one_else_does()
    {
        // Password spraying: failures for tenants that do not exist belong to no tenant.
        var ip = $"198.51.100.{Random.Shared.Next(1, 255)}";
        var unknown = "nosuch" + Guid.NewGuid().ToString("N")[..8];
        await Problem.AssertAsync(await fx.Api.LoginFromAsync(ip, new { tenant = unknown, username = "admin", password = "wrong-password-123" }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);

        var platform = await fx.PlatformAdminAsync();
        var response = await fx.Api.GetAsync("/admin/audit?tenantless=true&type=login.failed&size=100", platform);
        var sprayed = Assert.Single((await response.ReadAsync<ListPage<AuditEvent>>()).Items, e => e.Ip == ip);
        Assert.Null(sprayed.Tenant);
        Assert.DoesNotContain("wrong-password-123", await response.Content.ReadAsStringAsync());

        // Not in a tenant's log, not even the platform admin's own; and a tenant admin may not ask for them.
        var alice = await fx.AliceAsync();
        foreach (var (caller, url) in new[] { (alice, "/admin/audit?size=100"), (platform, "/admin/audit?size=100") })
            Assert.DoesNotContain((await fx.Api.GetAsync<ListPage<AuditEvent>>(url, caller)).Items, e => e.Ip == ip);
        var refused = await Problem.AssertAsync(await fx.Api.GetAsync("/admin/audit?tenantless=true", alice), HttpStatusCode.Forbidden, Problems.Forbidden);
        Assert.Equal("platform:admin", Assert.Single(refused.RequiredPermissions!));
    }

    [Fact]
    public async Task The_log_pages_by_cursor()
    {
        var alice = await fx.AliceAsync();
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 5; i++) await fx.Api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = "wrong-password-123" });
        var all = (await fx.Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&size=100", alice)).Items.Select(e => e.Id).ToList();
        Assert.True(all.Count >= 6, $"{all.Count} events");

        var walked = new List<long>();
        string? next = null;
        do
        {
            var page = await fx.Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&size=2" + (next is null ? "" : $"&after={next}"), alice);
            walked.AddRange(page.Items.Select(e => e.Id));
            next = page.Next;
        } while (next is not null);
        Assert.Equal(all, walked);

        await Problem.AssertAsync(await fx.Api.GetAsync("/admin/audit?after=0", alice), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await fx.Api.GetAsync("/admin/audit?after=x", alice), HttpStatusCode.BadRequest, Problems.Validation);
    }

    [Fact]
    public async Task The_total_is_counted_up_to_a_cap()
    {
        var slug = await fx.NewTenantAsync();
        await using (var conn = new NpgsqlConnection(TestEnvironment.AdminConnectionFor(fx.Database)))
        {
            await conn.OpenAsync();
            await using var command = new NpgsqlCommand(
                """INSERT INTO audit_events ("Type", "TenantId", "At") SELECT 'test.bulk', "Id", now() FROM tenants, generate_series(1, 10050) WHERE "Slug" = @slug""", conn);
            command.Parameters.AddWithValue("slug", slug);
            Assert.True(await command.ExecuteNonQueryAsync() == 10050);
        }
        var page = await fx.Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?tenant={slug}&size=5", await fx.PlatformAdminAsync());
        Assert.Equal(10_000, page.Total);
        Assert.Equal(5, page.Items.Length);
        Assert.All(page.Items, e => Assert.Equal("test.bulk", e.Type));
    }

    [Fact]
    public async Task A_repeated_kick_and_a_repeated_end_of_an_own_session_are_audited_as_such()
    {
        var alice = await fx.AliceAsync();
        var user = await fx.NewUserAsync();
        var mine = await fx.Api.LoginAsync(user);
        await fx.Api.LoginAsync(user);
        var other = (await fx.Api.GetAsync<MySession[]>("/auth/sessions", mine)).Single(s => !s.Current).Id;

        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{other}", alice)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{other}", alice)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Delete, $"/auth/sessions/{other}", mine)).StatusCode);

        var events = (await fx.Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&size=100", alice)).Items
            .Where(e => e.SessionId == other).Select(e => e.Type).Where(t => t.StartsWith("session.", StringComparison.Ordinal)).ToList();
        Assert.Equal(["session.end-retried", "session.kick-retried", "session.kicked"], events);
    }
}
