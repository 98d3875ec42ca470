using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Events;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.AdminConsole;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Events;

public sealed class WebhookTests_Opaque(WebhookFixture<Opaque> fx, ITestOutputHelper o) : WebhookTests<Opaque>(fx, o), IClassFixture<WebhookFixture<Opaque>>;
public sealed class WebhookTests_Blacklist(WebhookFixture<Blacklist> fx, ITestOutputHelper o) : WebhookTests<Blacklist>(fx, o), IClassFixture<WebhookFixture<Blacklist>>;
public sealed class WebhookTests_SessionCache(WebhookFixture<SessionCache> fx, ITestOutputHelper o) : WebhookTests<SessionCache>(fx, o), IClassFixture<WebhookFixture<SessionCache>>;

/// <summary>Session events reach a real receiver: each type, signed, with its data; never for a rollback; in order and complete through an outage.</summary>
public abstract class WebhookTests<TMode> where TMode : IMode
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(20);
    private readonly WebhookFixture<TMode> _fx;

    protected WebhookTests(WebhookFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    private ApiClient Api => _fx.Api;

    private async Task<Guid> SessionIdAsync(Login login) => (await Api.MeAsync(login)).Session.Id;

    private async Task AssertStatusAsync(HttpResponseMessage response, HttpStatusCode status, string what) =>
        Assert.True(response.StatusCode == status, $"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");

    [Fact]
    public async Task Each_event_type_arrives_signed_with_its_data_after_every_kind_of_change()
    {
        var (tenant, admin) = await _fx.TenantAsync();
        var hook = await _fx.RegisterAsync(tenant, "/all");
        var q = $"?tenant={tenant}";
        async Task<TestUser> User() => await _fx.NewUserAsync(tenant: tenant);

        // Logout.
        var a = await User();
        var a1 = await Api.LoginAsync(a);
        var a1Id = await SessionIdAsync(a1);
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Post, "/auth/logout", a1), HttpStatusCode.NoContent, "logout");
        // Kick one, then kick-all (one row, one event per session).
        var b = await User();
        var (b1, b2, b3) = (await Api.LoginAsync(b, "web"), await Api.LoginAsync(b, "mobile"), await Api.LoginAsync(b, "api"));
        var (b1Id, b2Id, b3Id) = (await SessionIdAsync(b1), await SessionIdAsync(b2), await SessionIdAsync(b3));
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{b1Id}{q}", admin), HttpStatusCode.NoContent, "kick");
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/users/{b.Id}/logout-all{q}", admin), HttpStatusCode.NoContent, "kick-all");
        // Ban and unban.
        var c = await User();
        var c1Id = await SessionIdAsync(await Api.LoginAsync(c));
        var until = DateTimeOffset.UtcNow.AddDays(2);
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/users/{c.Id}/ban{q}", admin, new { until }), HttpStatusCode.NoContent, "ban");
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/users/{c.Id}/unban{q}", admin), HttpStatusCode.NoContent, "unban");
        // Password changed by an admin.
        var d = await User();
        var d1Id = await SessionIdAsync(await Api.LoginAsync(d));
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Patch, $"/admin/users/{d.Id}{q}", admin, new { password = "pw-" + Guid.NewGuid().ToString("N") }),
            HttpStatusCode.OK, "password");
        // Roles: the user's own, then the permissions of a role it holds.
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Post, $"/admin/roles{q}", admin, new { name = "viewer", permissions = Array.Empty<string>() }),
            HttpStatusCode.Created, "role");
        var e = await User();
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Put, $"/admin/users/{e.Id}/roles{q}", admin, new { roles = new[] { "viewer" } }), HttpStatusCode.OK, "roles");
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Put, $"/admin/roles/viewer{q}", admin, new { permissions = new[] { "reports:read" } }),
            HttpStatusCode.OK, "role permissions");
        // Deletion.
        var g = await User();
        var g1Id = await SessionIdAsync(await Api.LoginAsync(g));
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Delete, $"/admin/users/{g.Id}{q}", admin), HttpStatusCode.NoContent, "delete");
        // Failed logins lock the account for this address.
        var h = await User();
        for (var i = 0; i < 4; i++) await Api.LoginFromAsync("198.51.100.20", new { tenant, username = h.Username, password = "wrong-" + i });
        // Expiry: a session opened by an instance whose idle limit is two seconds, found by the janitor.
        var x = await User();
        var shortLived = _fx.AnotherInstance(s => s["Session:IdleTimeout"] = "00:00:02");
        var x1Id = (await shortLived.MeAsync(await shortLived.LoginAsync(x))).Session.Id;
        // Every event so far delivered, and no delivery leased: a lease taken before the skip would look expired after
        // it while its attempt is still under way, and another instance would send it again.
        await _fx.Receiver.WaitAsync("/all", r => r.Count >= 21, Within, "the events before the expiry");
        await Eventually.ThatAsync(async () =>
        {
            using var scope = _fx.Factory.Services.CreateScope();
            var db = scope.ServiceProvider.GetRequiredService<SessionGate.Data.AppDbContext>();
            return await db.Set<WebhookDelivery>().AnyAsync(d => d.LeaseUntil != null);
        }, leased => !leased, Within, "no delivery leased");
        _fx.Clock.Skip(TimeSpan.FromSeconds(2.5)); // past that instance's idle limit, on the janitor's clock
        await _fx.Factory.Services.GetRequiredService<SessionJanitor>().RunOnceAsync(default);
        // A login policy replaces the older session (last: it holds for the whole tenant).
        await AssertStatusAsync(await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{tenant}/login-policy", admin, new { policy = "Single" }), HttpStatusCode.OK, "policy");
        var f = await User();
        var f1Id = await SessionIdAsync(await Api.LoginAsync(f));
        var f2Id = await SessionIdAsync(await Api.LoginAsync(f));

        (string Type, Guid User, Guid? Session, string? Reason)[] expected =
        [
            ("session.created", a.Id, a1Id, null), ("session.ended", a.Id, a1Id, "logged-out"),
            ("session.created", b.Id, b1Id, null), ("session.created", b.Id, b2Id, null), ("session.created", b.Id, b3Id, null),
            ("session.ended", b.Id, b1Id, "kicked"), ("session.ended", b.Id, b2Id, "kicked"), ("session.ended", b.Id, b3Id, "kicked"),
            ("session.created", c.Id, c1Id, null), ("session.ended", c.Id, c1Id, "banned"), ("user.banned", c.Id, null, null), ("user.unbanned", c.Id, null, null),
            ("session.created", d.Id, d1Id, null), ("session.ended", d.Id, d1Id, "password-changed"),
            ("user.roles_changed", e.Id, null, null), ("user.roles_changed", e.Id, null, null),
            ("session.created", g.Id, g1Id, null), ("session.ended", g.Id, g1Id, "kicked"), ("user.deleted", g.Id, null, null),
            ("user.locked", h.Id, null, null),
            ("session.created", x.Id, x1Id, null), ("session.ended", x.Id, x1Id, "expired"),
            ("session.created", f.Id, f1Id, null), ("session.ended", f.Id, f1Id, "replaced"), ("session.created", f.Id, f2Id, null),
        ];
        var (hookId, secret) = hook;
        await _fx.Receiver.WaitAsync("/all", r => r.Count >= expected.Length, Within, "every event");
        var events = _fx.Receiver.At("/all").Select(r => Delivered.Verify(r, secret)).ToList();
        var got = events.Select(v => (v.Type, v.UserId, v.SessionId, v.Reason)).ToList();
        Assert.Equal(expected.OrderBy(v => v.ToString()), got.OrderBy(v => v.ToString()));
        Assert.Equal(events.Count, events.Select(v => v.Id).Distinct().Count());

        // Per user, in the order they happened.
        foreach (var user in expected.Select(v => v.User).Distinct())
            Assert.Equal(expected.Where(v => v.User == user).Select(v => (v.Type, v.Session)), got.Where(v => v.UserId == user).Select(v => (v.Type, v.SessionId)));
        Assert.All(events, v => Assert.Equal(tenant, v.Data.Tenant));
        Assert.Equal(until.ToUnixTimeSeconds(), events.Single(v => v.Type == "user.banned").Data.Until!.Value.ToUnixTimeSeconds());
        Assert.Equal("account-address", events.Single(v => v.Type == "user.locked").Data.Scope);
        Assert.Equal("mobile", events.Single(v => v.Type == "session.created" && v.SessionId == b2Id).Data.DeviceType);
        // Never a credential: only public ids and names.
        foreach (var r in _fx.Receiver.At("/all"))
        {
            Assert.DoesNotContain(a1.Bearer, r.Body);
            if (a1.Refresh is not null) Assert.DoesNotContain(a1.Refresh, r.Body);
        }

        // The delivery log says the same (and nothing more was ever queued), and the metrics count them.
        Assert.Equal(hookId, Assert.Single(await (await Api.GetAsync($"/admin/webhooks{q}", admin)).ReadAsync<Webhook[]>()).Id);
        var log = await DeliveriesAsync(hookId, tenant, admin);
        Assert.Equal(expected.Length, log.Total);
        Assert.All(log.Items, i => Assert.Equal("succeeded", i.Status));
        var metrics = await (await Api.Management.GetAsync("/metrics")).Content.ReadAsStringAsync();
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("sessiongate_webhooks_deliveries_total{", StringComparison.Ordinal) && l.Contains("result=\"sent\""));
    }

    [Fact]
    public async Task A_refresh_token_reuse_ends_its_family_with_an_event()
    {
        if (!TMode.HasRefreshTokens) return;
        var (tenant, _) = await _fx.TenantAsync();
        var (_, secret) = await _fx.RegisterAsync(tenant, "/reuse", ["session.ended"]);
        var user = await _fx.NewUserAsync(tenant: tenant);
        var login = await Api.LoginAsync(user);
        var id = await SessionIdAsync(login);
        await Api.RefreshAsync(login);
        await Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
        var got = await _fx.Receiver.WaitAsync("/reuse", r => r.Count >= 1, Within, "the family's end");
        var ended = Delivered.Verify(got.Single(), secret);
        Assert.Equal((user.Id, id), (ended.UserId, ended.SessionId!.Value));
        Assert.Contains(ended.Reason, new[] { "kicked", "refresh-reused" });
    }

    [Fact]
    public async Task Nothing_is_sent_for_a_change_that_rolled_back()
    {
        var (tenant, admin) = await _fx.TenantAsync();
        var (hookId, _) = await _fx.RegisterAsync(tenant, "/rollback");
        var taken = await _fx.NewUserAsync(tenant: tenant);
        var user = await _fx.NewUserAsync(tenant: tenant);
        var login = await Api.LoginAsync(user);
        // A new password (which ends every session) with a username that is taken: the whole change rolls back (409).
        var response = await Api.SendAsync(HttpMethod.Patch, $"/admin/users/{user.Id}?tenant={tenant}", admin,
            new { username = taken.Username, password = "pw-" + Guid.NewGuid().ToString("N") });
        await Problem.AssertAsync(response, HttpStatusCode.Conflict, Problems.Conflict);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", login)).StatusCode);
        // A change after it is delivered; the rolled-back one never is.
        await Api.SendAsync(HttpMethod.Post, "/auth/logout", login);
        await _fx.Receiver.WaitAsync("/rollback", r => r.Any(x => x.Body.Contains("logged-out")), Within, "the logout");
        Assert.DoesNotContain(_fx.Receiver.At("/rollback"), r => r.Body.Contains("password-changed"));
        // The log holds every delivery ever queued for the endpoint: created, ended (logged-out), and nothing of the rollback.
        Assert.Equal(["session.created", "session.ended"], (await DeliveriesAsync(hookId, tenant, admin)).Items.Select(d => d.Type).Order());
        Assert.Equal(2, _fx.Receiver.At("/rollback").Count());
    }

    [Fact]
    public async Task While_the_receiver_is_down_nothing_is_lost_and_each_user_s_events_arrive_in_order()
    {
        var (tenant, admin) = await _fx.TenantAsync();
        var (hookId, secret) = await _fx.RegisterAsync(tenant, "/outage", ["session.created", "session.ended"]);
        var users = new[] { await _fx.NewUserAsync(tenant: tenant), await _fx.NewUserAsync(tenant: tenant), await _fx.NewUserAsync(tenant: tenant) };
        var expected = new List<(Guid User, string Type, Guid Session)>();
        var sessions = new Dictionary<Guid, List<(Login Login, Guid Id)>>();
        foreach (var user in users)
        {
            sessions[user.Id] = [];
            for (var i = 0; i < 2; i++)
            {
                var login = await Api.LoginAsync(user);
                var id = await SessionIdAsync(login);
                sessions[user.Id].Add((login, id));
                expected.Add((user.Id, "session.created", id));
            }
        }
        _fx.Receiver.Proxy.Cut();
        try
        {
            foreach (var user in users)
            {
                var (first, firstId) = sessions[user.Id][0];
                await Api.SendAsync(HttpMethod.Post, "/auth/logout", first);
                expected.Add((user.Id, "session.ended", firstId));
                var third = await Api.LoginAsync(user);
                var thirdId = await SessionIdAsync(third);
                expected.Add((user.Id, "session.created", thirdId));
                // Kick-all ends the second and the third (one row, expanded).
                await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/logout-all?tenant={tenant}", admin);
                expected.Add((user.Id, "session.ended", sessions[user.Id][1].Id));
                expected.Add((user.Id, "session.ended", thirdId));
            }
            // Attempts fail meanwhile (connection refused) and are retried.
            await WaitAsync(() => DeliveriesAsync(hookId, tenant, admin), log => log.Items.Any(d => d.LastError is not null), "an attempt failing during the outage");
        }
        finally
        {
            _fx.Receiver.Proxy.Restore();
        }
        var got = await _fx.Receiver.WaitAsync("/outage", r => r.Select(x => x.Headers["webhook-id"]).Distinct().Count() >= expected.Count, TimeSpan.FromSeconds(30),
            "every event after the outage");
        var events = got.Select(r => Delivered.Verify(r, secret)).ToList();
        // At least once: a repeat carries the same id; none is lost, and each user's first arrivals are in order.
        var firsts = events.DistinctBy(v => v.Id).ToList();
        Assert.Equal(expected.Count, firsts.Count);
        foreach (var user in users)
            Assert.Equal(expected.Where(v => v.User == user.Id).Select(v => (v.Type, v.Session)),
                firsts.Where(v => v.UserId == user.Id).Select(v => (v.Type, v.SessionId!.Value)));
    }

    [Fact]
    public async Task A_receiver_answering_500_is_retried_then_disabled_audited_and_can_be_enabled_again()
    {
        var (tenant, admin) = await _fx.TenantAsync();
        var q = $"?tenant={tenant}";
        _fx.Receiver.Answer["/broken"] = 500;
        var (id, secret) = await _fx.RegisterAsync(tenant, "/broken", ["session.created"]);
        var user = await _fx.NewUserAsync(tenant: tenant);
        await Api.LoginAsync(user);
        var attempts = FixtureAttempts;
        await _fx.Receiver.WaitAsync("/broken", r => r.Count >= attempts, Within, "every attempt of the schedule");
        var disabled = await WaitAsync(async () => await (await Api.GetAsync($"/admin/webhooks/{id}{q}", admin)).ReadAsync<Webhook>(), w => !w.Enabled,
            "the endpoint disabled");
        Assert.Contains("HTTP 500", disabled.DisabledReason);

        // The delivery failed for good (no attempt after the last), and the receiver saw exactly its attempts.
        var delivery = Assert.Single((await DeliveriesAsync(id, tenant, admin)).Items);
        Assert.Equal(("failed", attempts, "HTTP 500", 500), (delivery.Status, delivery.Attempts, delivery.LastError, delivery.LastStatusCode));
        Assert.True(delivery.ResponseExcerpt!.Length <= 256);
        Assert.Equal(attempts, _fx.Receiver.At("/broken").Count());
        Assert.Single(_fx.Receiver.At("/broken").Select(r => r.Headers["webhook-id"]).Distinct());
        var audit = await (await Api.GetAsync($"/admin/audit?type=webhook.disabled&tenant={tenant}", admin)).ReadAsync<Paged<AuditEntry>>();
        Assert.Contains(audit.Items, i => i.Detail!.Value.As<WebhookDisabledDetail>() == new WebhookDisabledDetail(id, delivery.Id, "HTTP 500"));

        // Disabled: new events wait (queued, never attempted); enabled again (and answering), they are sent, and a retry sends the failed one.
        await Api.LoginAsync(user);
        var waiting = await WaitAsync(() => DeliveriesAsync(id, tenant, admin), log => log.Total == 2, "the new event queued");
        Assert.Equal(0, waiting.Items.Single(d => d.Id != delivery.Id).Attempts);
        Assert.Equal(attempts, _fx.Receiver.At("/broken").Count());
        _fx.Receiver.Answer["/broken"] = 204;
        var enabled = await Api.SendAsync(HttpMethod.Post, $"/admin/webhooks/{id}/enable{q}", admin);
        await AssertStatusAsync(enabled, HttpStatusCode.OK, "enable");
        await _fx.Receiver.WaitAsync("/broken", r => r.Count >= attempts + 1, Within, "the event that waited");
        var retry = await Api.SendAsync(HttpMethod.Post, $"/admin/webhooks/{id}/deliveries/{delivery.Id}/retry{q}", admin);
        await AssertStatusAsync(retry, HttpStatusCode.Accepted, "retry");
        var all = await _fx.Receiver.WaitAsync("/broken", r => r.Count >= attempts + 2, Within, "the retried delivery");
        Assert.Equal(delivery.EventId.ToString(), all.Last().Headers["webhook-id"]);
        Delivered.Verify(all.Last(), secret);
    }

    [Fact]
    public async Task After_a_rotation_deliveries_carry_a_signature_for_the_new_and_the_old_secret()
    {
        var (tenant, admin) = await _fx.TenantAsync();
        var (id, old) = await _fx.RegisterAsync(tenant, "/rotated", ["session.created"]);
        var fresh = (await (await Api.SendAsync(HttpMethod.Post, $"/admin/webhooks/{id}/secret?tenant={tenant}", admin)).ReadAsync<WebhookSecret>()).Secret;
        await Api.LoginAsync(await _fx.NewUserAsync(tenant: tenant));
        var push = (await _fx.Receiver.WaitAsync("/rotated", r => r.Count >= 1, Within, "the delivery")).Single();
        Assert.Equal(2, push.Headers["webhook-signature"].Split(' ').Length);
        Delivered.Verify(push, fresh);
        Delivered.Verify(push, old);
        Assert.ThrowsAny<Exception>(() => Delivered.Verify(push, StandardSecret()));
    }

    private static string StandardSecret() => SessionGate.Events.WebhookSecrets.New();

    private static int FixtureAttempts => WebhookFixture<TMode>.Schedule.Split(',').Length + 1;

    private async Task<Paged<Delivery>> DeliveriesAsync(Guid hook, string tenant, Login admin) =>
        await (await Api.GetAsync($"/admin/webhooks/{hook}/deliveries?tenant={tenant}&size=100", admin)).ReadAsync<Paged<Delivery>>();

    private static Task<T> WaitAsync<T>(Func<Task<T>> read, Func<T, bool> done, string what) => Eventually.ThatAsync(read, done, Within, what);

    [Fact]
    public async Task Caep_session_revoked_tokens_verify_against_the_JWKS_with_stock_JsonWebTokenHandler()
    {
        var (tenant, admin) = await _fx.TenantAsync();
        var (hookId, secret) = await _fx.RegisterAsync(tenant, "/caep", ["session.ended", "user.banned"], "caep");
        var user = await _fx.NewUserAsync(tenant: tenant);
        var login = await Api.LoginAsync(user);
        var sid = await SessionIdAsync(login);
        await Api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban?tenant={tenant}", admin);
        var push = (await _fx.Receiver.WaitAsync("/caep", r => r.Count >= 1, Within, "the SET")).Single();
        // user.banned has no CAEP form: a caep endpoint never gets it queued, let alone sent.
        Assert.Equal(["session.ended"], (await (await Api.GetAsync($"/admin/webhooks/{hookId}?tenant={tenant}", admin)).ReadAsync<Webhook>()).EventsDelivered);
        Assert.Equal("session.ended", Assert.Single((await DeliveriesAsync(hookId, tenant, admin)).Items).Type);
        Assert.Single(_fx.Receiver.At("/caep"));
        Assert.Equal("application/secevent+jwt", push.ContentType);
        Assert.Equal("Bearer " + secret, push.Authorization);

        var jwks = new Microsoft.IdentityModel.Tokens.JsonWebKeySet(await (await Api.GetAsync("/.well-known/jwks.json")).Content.ReadAsStringAsync());
        var result = await new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().ValidateTokenAsync(push.Body,
            new Microsoft.IdentityModel.Tokens.TokenValidationParameters
            {
                ValidIssuer = "sessiongate",
                ValidAudience = _fx.Receiver.Url("/caep"),
                IssuerSigningKeys = jwks.GetSigningKeys(),
                ValidTypes = ["secevent+jwt"],
                ValidateLifetime = false, // a SET carries no exp (RFC 8417)
                RequireExpirationTime = false,
            });
        Assert.True(result.IsValid, result.Exception?.Message);
        var token = (Microsoft.IdentityModel.JsonWebTokens.JsonWebToken)result.SecurityToken;
        Assert.False(token.TryGetPayloadValue<long>("exp", out _));
        var payload = JsonSerializer.Deserialize<SecurityEvent>(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.EncodedPayload), Contract.Strict)!;
        var revoked = payload.Events.SessionRevoked;
        Assert.Equal("admin", revoked.InitiatingEntity);
        Assert.Equal("banned", revoked.ReasonAdmin!["en"]);
        Assert.True(revoked.EventTimestamp > 0);
        Assert.Equal("complex", payload.SubId.Format);
        Assert.Equal(new OpaqueSubject("opaque", sid.ToString()), payload.SubId.Session);
        Assert.Equal(new IssSubject("iss_sub", "sessiongate", user.Id.ToString()), payload.SubId.User);
        Assert.Equal(new OpaqueSubject("opaque", tenant), payload.SubId.Tenant);
        Assert.False(string.IsNullOrEmpty(payload.Jti));
    }
}
