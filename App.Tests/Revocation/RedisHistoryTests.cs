using System.Net;
using Microsoft.EntityFrameworkCore;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Revocation;

public sealed class RedisHistoryTests_Opaque(RedisHistoryFixture<Opaque> fx, ITestOutputHelper o) : RedisHistoryTests<Opaque>(fx, o), IClassFixture<RedisHistoryFixture<Opaque>>;
public sealed class RedisHistoryTests_Blacklist(RedisHistoryFixture<Blacklist> fx, ITestOutputHelper o) : RedisHistoryTests<Blacklist>(fx, o), IClassFixture<RedisHistoryFixture<Blacklist>>;
public sealed class RedisHistoryTests_SessionCache(RedisHistoryFixture<SessionCache> fx, ITestOutputHelper o) : RedisHistoryTests<SessionCache>(fx, o), IClassFixture<RedisHistoryFixture<SessionCache>>;

/// <summary>
/// No L1 (so nothing an instance remembers in memory can hide what Redis answers), a fast relay, and two instances on
/// a Redis of the fixture's own, which the tests snapshot, restart from an older snapshot, and fill to maxmemory.
/// </summary>
public sealed class RedisHistoryFixture<TMode> : PrivateRedisFixture<TMode> where TMode : IMode
{
    public override TimeSpan LocalCacheMaxAge => TimeSpan.Zero;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        base.Configure(settings);
        settings["Revocation:ProofLagWarning"] = "00:00:01";
    }

    public async Task<long> GenerationAsync()
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(Database));
        return await db.RedisKeyspaces.Where(k => k.Prefix == Prefix).Select(k => k.Generation).SingleAsync();
    }

    /// <summary>Pretends the outbox was pruned up to just past <paramref name="mark"/>: Redis at that mark can no longer be caught up.</summary>
    public async Task PruneOutboxAsync(long mark)
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(Database));
        await db.Database.ExecuteSqlAsync($"""UPDATE redis_keyspaces SET "PrunedBelow" = {mark + 1} WHERE "Prefix" = {Prefix}""");
    }
}

/// <summary>
/// Redis cannot rewrite history: whatever state it comes back in (a restart from an older snapshot, a Redis that
/// answers reads but refuses writes), no credential revoked in PostgreSQL is accepted and no removed role or
/// permission grants anything, on the instances that ran through it and on one started afterwards.
/// </summary>
public abstract class RedisHistoryTests<TMode> where TMode : IMode
{
    private readonly RedisHistoryFixture<TMode> _fx;

    protected RedisHistoryTests(RedisHistoryFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    /// <summary>One of everything that must not come back: each is a login that works now and must not after the change.</summary>
    private sealed record Victim(string Name, Login Login, Func<Task<HttpResponseMessage>> Probe, Func<Task> Revoke);

    private async Task<List<Victim>> VictimsAsync()
    {
        var alice = await _fx.AliceAsync();
        var api = _fx.Api;
        var victims = new List<Victim>();
        foreach (var kind in RevocationKind.All)
        {
            var target = await RevocationKind.SetUpAsync(_fx);
            victims.Add(new Victim(kind.Name, target.Victim, () => kind.ProbeAsync(api, target.Victim), () => kind.RevokeAsync(_fx, api, target)));
        }
        // A role whose permission is taken away: every holder loses it on the next request.
        var role = "viewer" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(HttpStatusCode.Created, (await api.SendAsync(HttpMethod.Post, "/admin/roles", alice, new { name = role, permissions = new[] { "reports:read" } })).StatusCode);
        var holder = await _fx.NewUserAsync([role]);
        var holderLogin = await api.LoginAsync(holder);
        victims.Add(new Victim("role-permissions", holderLogin, () => api.GetAsync("/api/reports", holderLogin), async () =>
            Assert.Equal(HttpStatusCode.OK, (await api.SendAsync(HttpMethod.Put, $"/admin/roles/{role}", alice, new { permissions = Array.Empty<string>() })).StatusCode)));
        return victims;
    }

    private static string PathOf(Victim victim) => victim.Name is "roles" or "role-permissions" ? "/api/reports" : "/auth/me";

    private static async Task AssertRefusedAsync(Victim victim, ApiClient api, string where)
    {
        var path = PathOf(victim);
        // An instance whose connection to the restarted Redis is not back yet fails closed (503): wait for its answer.
        var response = await Eventually.AnsweredAsync(() => api.GetAsync(path, victim.Login), TimeSpan.FromSeconds(15));
        Assert.True(response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden,
            $"{victim.Name} on {where}: accepted again ({(int)response.StatusCode}) {await response.Content.ReadAsStringAsync()}");
    }

    [Fact]
    public async Task A_redis_restarted_from_an_older_snapshot_brings_back_no_revocation_and_no_removed_role()
    {
        var alice = await _fx.AliceAsync();
        var victims = await VictimsAsync();
        // A demoted admin: after the restore it tries to give itself its role back.
        var mallory = await _fx.NewUserAsync(["admin", "reporter"]);
        var malloryLogin = await _fx.Api.LoginAsync(mallory);
        foreach (var v in victims) Assert.Equal(HttpStatusCode.OK, (await v.Probe()).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync("/admin/users", malloryLogin)).StatusCode);
        await _fx.WaitProvenAsync();

        await _fx.Redis.SaveAsync(); // the snapshot holds every session live, every role as it was
        foreach (var v in victims) await v.Revoke();
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.SendAsync(HttpMethod.Put, $"/admin/users/{mallory.Id}/roles", alice, new { roles = new[] { "reporter" } })).StatusCode);
        foreach (var v in victims) await AssertRefusedAsync(v, _fx.Api, "A before the restore");
        // Redis has taken every change and proven it (the marks moved past them): only the restore can lose them now.
        await _fx.WaitProvenAsync();

        // No instance may write Redis back meanwhile: what refuses the restored entries is each instance's own proof.
        await _fx.HoldWriterAsync(DateTimeOffset.UtcNow.AddHours(1));
        ApiClient c;
        try
        {
            await _fx.Redis.RestartFromSnapshotAsync();
            // From the first request after Redis is back, A and B (which ran through it, no L1 to hide anything) refuse
            // or fail closed: their connections broke, so nothing counts until the older marks are read.
            var watch = System.Diagnostics.Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(3))
            {
                foreach (var api in new[] { _fx.Api, _fx.B })
                foreach (var v in victims)
                {
                    var r = await api.GetAsync(PathOf(v), v.Login);
                    Assert.True(r.StatusCode is not HttpStatusCode.OK, $"{v.Name}: accepted {watch.ElapsedMilliseconds} ms after the restart");
                }
            }
            c = _fx.AnotherInstance(_ => { });
            foreach (var (api, name) in new[] { (c, "C, started after the restore"), (_fx.Api, "A"), (_fx.B, "B") })
            {
                foreach (var v in victims) await AssertRefusedAsync(v, api, name);
                var grant = await Eventually.AnsweredAsync(() => api.SendAsync(HttpMethod.Put, $"/admin/users/{mallory.Id}/roles", malloryLogin,
                    new { roles = new[] { "admin", "reporter" } }), TimeSpan.FromSeconds(15));
                Assert.True(grant.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden, $"the demoted admin re-granted its role on {name}: {(int)grant.StatusCode}");
            }
            var roles = (await _fx.Api.GetAsync<SessionGate.Tests.Admin.UserDetail>($"/admin/users/{mallory.Id}", alice)).Roles;
            Assert.Equal(["reporter"], roles);
        }
        finally
        {
            await _fx.HoldWriterAsync(DateTimeOffset.UnixEpoch);
        }

        // The relay writes back what the snapshot lost; from then on Redis itself refuses them.
        await _fx.WaitProvenAsync();
        foreach (var v in victims) await AssertRefusedAsync(v, c, "C after the relay caught up");
        var fresh = await _fx.Api.LoginAsync(mallory);
        Assert.Equal(HttpStatusCode.OK, (await c.GetAsync("/api/reports", fresh)).StatusCode);
        await Problem.AssertAsync(await c.GetAsync("/admin/users", fresh), HttpStatusCode.Forbidden, Problems.Forbidden);
    }

    [Fact]
    public async Task A_snapshot_older_than_the_outbox_reaches_moves_the_key_generation_and_nothing_comes_back()
    {
        var victims = await VictimsAsync();
        var survivor = await _fx.Api.LoginAsync(await _fx.NewUserAsync(["reporter"]));
        foreach (var v in victims) Assert.Equal(HttpStatusCode.OK, (await v.Probe()).StatusCode);
        await _fx.WaitProvenAsync();
        await _fx.Redis.SaveAsync();
        var snapshotMark = await _fx.MarkAsync();
        foreach (var v in victims) await v.Revoke();
        await _fx.WaitProvenAsync();
        var generation = await _fx.GenerationAsync();
        // The rows the snapshot lacks are gone from the outbox (as after OutboxRetention): its mark cannot be caught up.
        await _fx.PruneOutboxAsync(snapshotMark);

        await _fx.Redis.RestartFromSnapshotAsync();
        var c = _fx.AnotherInstance(_ => { });
        await Task.Delay(TimeSpan.FromSeconds(0.5));
        foreach (var (api, name) in new[] { (c, "C"), (_fx.Api, "A"), (_fx.B, "B") })
        {
            foreach (var v in victims) await AssertRefusedAsync(v, api, name);
            Assert.Equal(HttpStatusCode.OK, (await Eventually.AnsweredAsync(() => api.GetAsync("/api/reports", survivor), TimeSpan.FromSeconds(15))).StatusCode);
        }
        Assert.True(await _fx.GenerationAsync() > generation, "the key generation did not move");
    }

    [Fact]
    public async Task Revocations_made_while_redis_is_out_of_memory_hold_on_an_instance_started_meanwhile()
    {
        var victims = await VictimsAsync();
        foreach (var v in victims) Assert.Equal(HttpStatusCode.OK, (await v.Probe()).StatusCode);
        await _fx.WaitProvenAsync();
        await _fx.Redis.FillMemoryAsync();
        try
        {
            // Every kind but the self-service password change, which counts wrong guesses in Redis and so is refused
            // (503) while Redis refuses writes: nothing commits, nothing is lost.
            var revoked = victims.Where(v => v.Name != "password").ToList();
            foreach (var v in revoked) await v.Revoke();
            var c = _fx.AnotherInstance(_ => { });
            foreach (var (api, name) in new[] { (c, "C, started while Redis refuses writes"), (_fx.Api, "A"), (_fx.B, "B") })
                foreach (var v in revoked) await AssertRefusedAsync(v, api, name);
            Assert.True(await _fx.UnprovenRowsAsync() > 0, "Redis took the writes: the test did not refuse them");
            // Still serving (200), but saying that Redis has not taken every change: a load balancer or alert can act on it.
            var ready = await Eventually.ThatAsync(async () => await (await c.Management.GetAsync("/health/ready")).ReadAsync<Readiness>(),
                r => r.Status == "Degraded", TimeSpan.FromSeconds(10), "/health/ready says Degraded");
            Assert.Equal("Degraded", ready.Checks["redis"]);
        }
        finally
        {
            await _fx.Redis.FreeMemoryAsync();
        }
        await _fx.WaitProvenAsync();
        var d = _fx.AnotherInstance(_ => { });
        foreach (var v in victims.Where(v => v.Name != "password")) await AssertRefusedAsync(v, d, "D after Redis took the writes");
    }

    [Fact]
    public async Task A_row_that_cannot_be_applied_is_set_aside_and_does_not_hold_back_the_rows_after_it()
    {
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database)))
        {
            db.Outbox.Add(new SessionGate.Data.OutboxMessage { Kind = "sessions.revoked", Payload = "{\"reason\":\"kicked\",\"sessions\":null}", CreatedAt = DateTimeOffset.UtcNow });
            db.Outbox.Add(new SessionGate.Data.OutboxMessage { Kind = "users.changed", Payload = "{\"reason\":\"roles-changed\",\"users\":[\"not-a-guid\"]}", CreatedAt = DateTimeOffset.UtcNow });
            await db.SaveChangesAsync();
        }
        var victims = await VictimsAsync();
        foreach (var v in victims.Where(v => v.Name is "logout" or "kick")) await v.Revoke();
        // The revocations after the bad rows are proven in Redis all the same; the bad rows are set aside, not lost.
        await _fx.WaitProvenAsync();
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database)))
        {
            var setAside = await db.Outbox.Where(o => o.SetAsideAt != null).Select(o => new { o.Kind, o.LastError }).ToListAsync();
            Assert.Equal(2, setAside.Count);
            Assert.All(setAside, r => Assert.False(string.IsNullOrEmpty(r.LastError)));
        }
        Assert.Contains(_fx.Logs.Lines, l => l.Contains("set aside", StringComparison.Ordinal));
        await _fx.Redis.FlushAsync();
        foreach (var v in victims.Where(v => v.Name is "logout" or "kick")) await AssertRefusedAsync(v, _fx.B, "B after a flush");
    }

    [Fact]
    public async Task Ending_an_ended_session_again_writes_no_outbox_row()
    {
        var user = await _fx.NewUserAsync();
        var login = await _fx.Api.LoginAsync(user);
        var other = await _fx.Api.LoginAsync(user, "desktop");
        var id = (await _fx.Api.MeAsync(other)).Session.Id;
        Assert.Equal(HttpStatusCode.NoContent, (await _fx.Api.SendAsync(HttpMethod.Delete, $"/auth/sessions/{id}", login)).StatusCode);
        var before = await OutboxRowsAsync();
        for (var i = 0; i < 20; i++)
        {
            var again = await _fx.Api.SendAsync(HttpMethod.Delete, $"/auth/sessions/{id}", login);
            Assert.True(again.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.NotFound, $"{(int)again.StatusCode}");
        }
        Assert.Equal(before, await OutboxRowsAsync());
        await Problem.AssertAsync(await _fx.B.GetAsync("/auth/me", other), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }

    [Theory]
    [InlineData("Revocation:RelayInterval", "00:00:30")]
    [InlineData("Revocation:OutboxRetention", "00:00:30")]
    [InlineData("Revocation:LocalCacheMaxAge", "00:00:20")]
    [InlineData("Revocation:ProofLagWarning", "00:00:00.1")]
    public void The_app_refuses_settings_that_would_leave_a_revocation_unproven_for_long(string setting, string value)
    {
        var bad = _fx.AnotherInstance(s => s[setting] = value);
        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => bad.Factory.Server);
        Assert.Contains(setting.Split(':')[1], error.Message);
    }

    private async Task<int> OutboxRowsAsync()
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database));
        return await db.Outbox.CountAsync();
    }
}
