using Microsoft.EntityFrameworkCore;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Caching;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Revocation;

/// <summary>
/// The app on a Redis of its own (so tests may break it), with a fast relay and probe, plus a second instance B on
/// the same PostgreSQL and Redis. <see cref="LocalCacheMaxAge"/> is the L1 bound under test.
/// </summary>
public abstract class PrivateRedisFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public PrivateRedis Redis { get; private set; } = null!;
    public ApiClient B { get; private set; } = null!;

    public abstract TimeSpan LocalCacheMaxAge { get; }

    public override string RedisConfiguration => Redis.Configuration;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Revocation:LocalCacheMaxAge"] = LocalCacheMaxAge.ToString();
        settings["Revocation:RelayInterval"] = "00:00:00.2";
        settings["Revocation:ProbeInterval"] = "00:00:00.2";
    }

    public override async Task InitializeAsync()
    {
        Redis = await PrivateRedis.StartAsync();
        await base.InitializeAsync();
        B = AnotherInstance(_ => { });
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Redis.DisposeAsync();
    }

    /// <summary>Waits until Redis's mark has passed every committed change and every instance has read the marks.</summary>
    public async Task WaitProvenAsync()
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(20);
        while (await UnprovenRowsAsync() > 0 || await (Redis.Database.StringGetAsync(Prefix + "mark")) is var raw && (raw.IsNull || await NewestRowAsync() >= long.Parse(((string)raw!).Split(':')[1])))
        {
            Assert.True(DateTimeOffset.UtcNow < deadline, "the relay did not prove the outbox rows in Redis within 20 s");
            await Task.Delay(50);
        }
        await Proof.EveryInstanceReadAsync(Instances, await NewestRowAsync());
    }

    private async Task<long> NewestRowAsync()
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(Database));
        return await db.Outbox.Where(o => o.SetAsideAt == null).MaxAsync(o => (long?)o.TxId) ?? 0;
    }

    public async Task<int> UnprovenRowsAsync()
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(Database));
        return await db.Outbox.CountAsync(o => o.AppliedAt == null && o.SetAsideAt == null);
    }

    /// <summary>The transaction horizon of the mark Redis holds now (a standalone Redis has one mark).</summary>
    public async Task<long> MarkAsync()
    {
        var raw = (string?)await Redis.Database.StringGetAsync(Prefix + "mark");
        Assert.NotNull(raw);
        return long.Parse(raw[(raw.IndexOf(':') + 1)..]);
    }

}

public static class WriterLease
{
    /// <summary>
    /// Gives the relay's writer lease to an instance that does not exist (until <paramref name="until"/>): no instance
    /// applies rows again or moves Redis's marks meanwhile. <see cref="DateTimeOffset.UnixEpoch"/> hands it back.
    /// </summary>
    public static async Task HoldWriterAsync<TMode>(this AppFixture<TMode> fx, DateTimeOffset until) where TMode : IMode
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        await db.Database.ExecuteSqlAsync($"""UPDATE redis_keyspaces SET "Writer" = 'held-by-test', "WriterUntil" = {until} WHERE "Prefix" = {fx.Prefix}""");
    }
}

/// <summary>An L1 bound far longer than any wait in the tests: only pub/sub can make B refuse quickly.</summary>
public sealed class LongL1Fixture<TMode> : PrivateRedisFixture<TMode> where TMode : IMode
{
    public override TimeSpan LocalCacheMaxAge => TimeSpan.FromSeconds(10);
}

/// <summary>The default L1 bound (2 s).</summary>
public sealed class DefaultL1Fixture<TMode> : PrivateRedisFixture<TMode> where TMode : IMode
{
    public override TimeSpan LocalCacheMaxAge => TimeSpan.FromSeconds(2);
}

/// <summary>No L1 at all: every request reads Redis, so what Redis lost is what a request sees.</summary>
public sealed class NoL1Fixture<TMode> : PrivateRedisFixture<TMode> where TMode : IMode
{
    public override TimeSpan LocalCacheMaxAge => TimeSpan.Zero;
}

/// <summary>The revocations an admin or a user can make, each checked the way its client would notice.</summary>
public sealed record RevocationKind(string Name, string Reason)
{
    public static readonly RevocationKind[] All =
    [
        new("logout", "logged-out"),
        new("kick", "kicked"),
        new("kick-all", "kicked"),
        new("ban", "banned"),
        new("password", "password-changed"),
        new("roles", "roles-changed"),
    ];

    /// <summary>
    /// A fresh user (holding reporter, so a role change is visible), the session that will be revoked, and a second
    /// session (the one that changes the password). Everything that needs Redis writes happens here.
    /// </summary>
    public static async Task<Target> SetUpAsync<TMode>(AppFixture<TMode> fx) where TMode : IMode
    {
        var user = await fx.NewUserAsync(["reporter"]);
        var victim = await fx.Api.LoginAsync(user);
        var other = await fx.Api.LoginAsync(user, "desktop");
        var sessionId = (await fx.Api.MeAsync(victim)).Session.Id;
        await fx.AliceAsync();
        return new Target(user, victim, other, sessionId);
    }

    public sealed record Target(TestUser User, Login Victim, Login Other, Guid SessionId);

    /// <summary>Performs the revocation through <paramref name="api"/>; asserts it answered success.</summary>
    public async Task RevokeAsync<TMode>(AppFixture<TMode> fx, ApiClient api, Target target) where TMode : IMode
    {
        var (user, victim) = (target.User, target.Victim);
        var alice = await fx.AliceAsync();
        HttpResponseMessage response = Name switch
        {
            "logout" => await api.SendAsync(HttpMethod.Post, "/auth/logout", victim),
            "kick" => await api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{target.SessionId}", alice),
            "kick-all" => await api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/logout-all", alice),
            "ban" => await api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", alice, new { reason = "test" }),
            "password" => await api.SendAsync(HttpMethod.Post, "/auth/password", target.Other,
                new { current_password = user.Password, new_password = "changed-" + Guid.NewGuid().ToString("N") }),
            "roles" => await api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", alice, new { roles = Array.Empty<string>() }),
            _ => throw new ArgumentException(Name),
        };
        Assert.True(response.IsSuccessStatusCode, $"{Name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>The request that tells whether the revocation shows: /api/reports for a role change, /auth/me otherwise.</summary>
    public Task<HttpResponseMessage> ProbeAsync(ApiClient api, Login victim) => api.GetAsync(Name == "roles" ? "/api/reports" : "/auth/me", victim);

    /// <summary>Whether <paramref name="response"/> shows the revocation (a role change is a 403 where roles are read per request).</summary>
    public bool Shows(HttpResponseMessage response) =>
        response.StatusCode == HttpStatusCode.Unauthorized || (Name == "roles" && response.StatusCode == HttpStatusCode.Forbidden);

    public override string ToString() => Name;
}

/// <summary>What each instance believes of Redis (its <see cref="RedisProof"/>), read rather than waited for.</summary>
public static class Proof
{
    /// <summary>
    /// Waits until every instance's relay has read marks past <paramref name="newest"/> (its floor) and holds nothing
    /// pending: from then on each judges by what Redis proved.
    /// </summary>
    public static async Task EveryInstanceReadAsync(IEnumerable<Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program>> instances, long newest)
    {
        foreach (var instance in instances)
        {
            var proof = instance.Services.GetRequiredService<RedisProof>();
            await Eventually.ThatAsync(() => Task.FromResult((proof.Floor, Pending: proof.Pending.Rows.Count(r => !r.SetAside))),
                s => s.Floor > newest && s.Pending == 0, TimeSpan.FromSeconds(10), $"an instance reads the marks past {newest}");
        }
    }
}

public static class Watch
{
    /// <summary>
    /// Polls until <paramref name="shows"/> holds, then keeps polling for <paramref name="hold"/> and fails if the
    /// revocation is ever not shown again. Returns how long it took to show.
    /// </summary>
    public static async Task<TimeSpan> ShowsWithinAsync(Func<Task<HttpResponseMessage>> probe, Func<HttpResponseMessage, bool> shows,
        TimeSpan within, TimeSpan hold, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        HttpResponseMessage response;
        while (!shows(response = await probe()))
        {
            if (clock.Elapsed > within)
                Assert.Fail($"{what}: still {(int)response.StatusCode} after {clock.Elapsed.TotalMilliseconds:F0} ms: {await response.Content.ReadAsStringAsync()}");
            await Task.Delay(10);
        }
        var took = clock.Elapsed;
        var holdUntil = clock.Elapsed + hold;
        while (clock.Elapsed < holdUntil)
        {
            response = await probe();
            Assert.True(shows(response), $"{what}: accepted again ({(int)response.StatusCode}) {clock.Elapsed.TotalMilliseconds:F0} ms after the revocation");
            await Task.Delay(20);
        }
        return took;
    }
}
