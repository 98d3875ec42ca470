using System.Net;
using System.Net.Http.Json;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Revocation;

public sealed class PropagationTests_Opaque(LongL1Fixture<Opaque> fx, ITestOutputHelper o) : PropagationTests<Opaque>(fx, o), IClassFixture<LongL1Fixture<Opaque>>;
public sealed class PropagationTests_Blacklist(LongL1Fixture<Blacklist> fx, ITestOutputHelper o) : PropagationTests<Blacklist>(fx, o), IClassFixture<LongL1Fixture<Blacklist>>;
public sealed class PropagationTests_SessionCache(LongL1Fixture<SessionCache> fx, ITestOutputHelper o) : PropagationTests<SessionCache>(fx, o), IClassFixture<LongL1Fixture<SessionCache>>;

/// <summary>
/// Two instances, and an L1 that would trust an entry for 10 s: B shows a change made on A within a second only
/// because the invalidation reached it.
/// </summary>
public abstract class PropagationTests<TMode> where TMode : IMode
{
    private readonly LongL1Fixture<TMode> _fx;

    protected PropagationTests(LongL1Fixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    public static TheoryData<string> Kinds => [.. RevocationKind.All.Select(k => k.Name)];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task A_revocation_on_one_instance_shows_on_the_other_within_a_second(string name)
    {
        var kind = RevocationKind.All.Single(k => k.Name == name);
        var target = await RevocationKind.SetUpAsync(_fx);
        for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await kind.ProbeAsync(_fx.B, target.Victim)).StatusCode); // B's L1 holds it

        await kind.RevokeAsync(_fx, _fx.Api, target);
        await Watch.ShowsWithinAsync(() => kind.ProbeAsync(_fx.B, target.Victim), kind.Shows, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(0.5), name);
        var final = await kind.ProbeAsync(_fx.B, target.Victim);
        if (final.StatusCode == HttpStatusCode.Forbidden) await Problem.AssertAsync(final, HttpStatusCode.Forbidden, Problems.Forbidden);
        else await Problem.AssertAsync(final, HttpStatusCode.Unauthorized, Problems.SessionRevoked, kind.Reason);
    }
}

public sealed class FaultTests_Opaque(DefaultL1Fixture<Opaque> fx, ITestOutputHelper o) : FaultTests<Opaque>(fx, o), IClassFixture<DefaultL1Fixture<Opaque>>;
public sealed class FaultTests_Blacklist(DefaultL1Fixture<Blacklist> fx, ITestOutputHelper o) : FaultTests<Blacklist>(fx, o), IClassFixture<DefaultL1Fixture<Blacklist>>;
public sealed class FaultTests_SessionCache(DefaultL1Fixture<SessionCache> fx, ITestOutputHelper o) : FaultTests<SessionCache>(fx, o), IClassFixture<DefaultL1Fixture<SessionCache>>;

/// <summary>Revocations hold through a lost invalidation, a Redis that refuses writes, and races; the L1 bound is 2 s.</summary>
public abstract class FaultTests<TMode> where TMode : IMode
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(2);
    private readonly DefaultL1Fixture<TMode> _fx;

    protected FaultTests(DefaultL1Fixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    [Fact]
    public async Task With_the_invalidation_subscription_cut_revocations_still_hold_within_the_bound()
    {
        foreach (var kind in RevocationKind.All)
        {
            var target = await RevocationKind.SetUpAsync(_fx);
            for (var i = 0; i < 3; i++) Assert.Equal(HttpStatusCode.OK, (await kind.ProbeAsync(_fx.B, target.Victim)).StatusCode);
            await _fx.Redis.CutSubscribersAsync();
            await kind.RevokeAsync(_fx, _fx.Api, target);
            await Watch.ShowsWithinAsync(() => kind.ProbeAsync(_fx.B, target.Victim), kind.Shows, Bound + TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(1), kind.Name);
        }
    }

    [Fact]
    public async Task Revocations_made_while_redis_refuses_writes_hold_and_reach_redis_once_it_accepts_them()
    {
        // Every kind but the self-service password change, which counts wrong guesses in Redis and so refuses (503)
        // while Redis refuses writes: nothing commits, nothing is lost.
        var targets = new List<(RevocationKind Kind, RevocationKind.Target Target)>();
        foreach (var kind in RevocationKind.All.Where(k => k.Name != "password")) targets.Add((kind, await RevocationKind.SetUpAsync(_fx)));
        foreach (var (kind, t) in targets) Assert.Equal(HttpStatusCode.OK, (await kind.ProbeAsync(_fx.B, t.Victim)).StatusCode);

        await _fx.Redis.RefuseWritesAsync();
        try
        {
            // PostgreSQL committed: each change has happened, whatever Redis says.
            foreach (var (kind, t) in targets) await kind.RevokeAsync(_fx, _fx.Api, t);
            // Ended sessions are refused at once anyway: every instance remembers the announced tombstones.
            foreach (var (kind, t) in targets.Where(x => x.Kind.Name != "roles"))
                await Watch.ShowsWithinAsync(() => kind.ProbeAsync(_fx.B, t.Victim), kind.Shows, TimeSpan.FromSeconds(1), TimeSpan.Zero, kind.Name + " (writes refused)");
            // A retried logout or kick succeeds.
            var kick = targets.Single(x => x.Kind.Name == "kick");
            Assert.Equal(HttpStatusCode.NoContent, (await _fx.Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{kick.Target.SessionId}", await _fx.AliceAsync())).StatusCode);
        }
        finally
        {
            await _fx.Redis.AcceptWritesAsync();
        }

        // Once Redis accepts writes, the relay brings every change there: a fresh instance, with no L1, agrees.
        var fresh = _fx.AnotherInstance(_ => { });
        foreach (var (kind, t) in targets)
        {
            await Watch.ShowsWithinAsync(() => kind.ProbeAsync(fresh, t.Victim), kind.Shows, TimeSpan.FromSeconds(5), TimeSpan.Zero, kind.Name + " (fresh instance)");
            await Watch.ShowsWithinAsync(() => kind.ProbeAsync(_fx.B, t.Victim), kind.Shows, Bound + TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(0.3), kind.Name);
        }
    }

    [Fact]
    public async Task A_logout_retried_after_its_redis_write_was_lost_succeeds()
    {
        var user = await _fx.NewUserAsync();
        var login = await _fx.Api.LoginAsync(user);
        // Served once before the fault: a credential Redis has never seen needs a write to be checked, and fails closed.
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync("/auth/me", login)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _fx.B.GetAsync("/auth/me", login)).StatusCode);
        await _fx.Redis.RefuseWritesAsync();
        try
        {
            Assert.Equal(HttpStatusCode.NoContent, (await _fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", login)).StatusCode);
            var again = await _fx.B.SendAsync(HttpMethod.Post, "/auth/logout", login);
            Assert.True(again.StatusCode is HttpStatusCode.NoContent or HttpStatusCode.Unauthorized, $"{again.StatusCode}");
        }
        finally
        {
            await _fx.Redis.AcceptWritesAsync();
        }
        var fresh = _fx.AnotherInstance(_ => { });
        var refused = await Eventually.StatusAsync(() => fresh.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(5));
        await Problem.AssertAsync(refused, HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }

    [Fact]
    public async Task A_login_racing_the_deletion_of_its_user_never_leaves_a_live_credential()
    {
        var alice = await _fx.AliceAsync();
        for (var i = 0; i < 8; i++)
        {
            var user = await _fx.NewUserAsync();
            var login = _fx.Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password });
            var delete = _fx.Api.SendAsync(HttpMethod.Delete, $"/admin/users/{user.Id}", alice);
            Assert.Equal(HttpStatusCode.NoContent, (await delete).StatusCode);
            var response = await login;
            if (response.StatusCode != HttpStatusCode.OK)
            {
                await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
                continue;
            }
            var credential = await ApiClient.ReadLoginAsync(response);
            foreach (var api in new[] { _fx.Api, _fx.B })
                Assert.Equal(HttpStatusCode.Unauthorized, (await api.GetAsync("/auth/me", credential)).StatusCode);
        }
    }
}

public sealed class RefreshRaceTests_Blacklist(DefaultL1Fixture<Blacklist> fx) : RefreshRaceTests<Blacklist>(fx), IClassFixture<DefaultL1Fixture<Blacklist>>;
public sealed class RefreshRaceTests_SessionCache(DefaultL1Fixture<SessionCache> fx) : RefreshRaceTests<SessionCache>(fx), IClassFixture<DefaultL1Fixture<SessionCache>>;

/// <summary>The JWT modes: a refresh racing a revocation never mints a token that outlives the revocation.</summary>
public abstract class RefreshRaceTests<TMode>(DefaultL1Fixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_refresh_racing_a_kick_never_leaves_a_live_token()
    {
        var alice = await fx.AliceAsync();
        var user = await fx.NewUserAsync();
        for (var i = 0; i < 10; i++)
        {
            var login = await fx.Api.LoginAsync(user);
            var sessionId = (await fx.Api.MeAsync(login)).Session.Id;
            var refresh = fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
            var kick = fx.B.SendAsync(HttpMethod.Delete, $"/admin/sessions/{sessionId}", alice);
            Assert.Equal(HttpStatusCode.NoContent, (await kick).StatusCode);
            var refreshed = await refresh;
            var credentials = new List<Login> { login };
            if (refreshed.StatusCode == HttpStatusCode.OK) credentials.Add(await ApiClient.ReadLoginAsync(refreshed));
            else await Problem.AssertAsync(refreshed, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
            foreach (var credential in credentials)
            foreach (var api in new[] { fx.Api, fx.B })
                await Problem.AssertAsync(await api.GetAsync("/auth/me", credential), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
        }
    }
}

public sealed class FlushTests_Opaque(NoL1Fixture<Opaque> fx) : FlushTests<Opaque>(fx), IClassFixture<NoL1Fixture<Opaque>>;
public sealed class FlushTests_Blacklist(NoL1Fixture<Blacklist> fx) : FlushTests<Blacklist>(fx), IClassFixture<NoL1Fixture<Blacklist>>;
public sealed class FlushTests_SessionCache(NoL1Fixture<SessionCache> fx) : FlushTests<SessionCache>(fx), IClassFixture<NoL1Fixture<SessionCache>>;

/// <summary>
/// Whatever Redis loses, the first read that misses rebuilds everything its decision depends on: several credentials
/// of one user, presented in every order after a flush, with a new login (and a refresh) in between.
/// </summary>
public abstract class FlushTests<TMode>(NoL1Fixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task After_a_flush_no_revoked_credential_comes_back_in_any_order()
    {
        var alice = await fx.AliceAsync();
        var user = await fx.NewUserAsync();
        var loggedOut = await fx.Api.LoginAsync(user);
        var kicked = await fx.Api.LoginAsync(user, "mobile");
        var live = await fx.Api.LoginAsync(user, "desktop");
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", loggedOut)).StatusCode);
        var kickedId = (await fx.Api.MeAsync(kicked)).Session.Id;
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{kickedId}", alice)).StatusCode);

        string[] steps = TMode.HasRefreshTokens ? ["logged-out", "kicked", "live", "login", "refresh"] : ["logged-out", "kicked", "live", "login"];
        var orders = Enumerable.Range(0, steps.Length).SelectMany(r => new[]
        {
            steps.Skip(r).Concat(steps.Take(r)).ToArray(),
            steps.Skip(r).Concat(steps.Take(r)).Reverse().ToArray(),
        });
        foreach (var order in orders)
        {
            await fx.Redis.FlushAsync();
            foreach (var step in order)
            {
                var because = $"{step} in order {string.Join(",", order)}";
                switch (step)
                {
                    case "logged-out":
                        await Problem.AssertAsync(await fx.B.GetAsync("/auth/me", loggedOut), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
                        break;
                    case "kicked":
                        await Problem.AssertAsync(await fx.Api.GetAsync("/auth/me", kicked), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "kicked");
                        break;
                    case "live":
                        Assert.True((await fx.B.GetAsync("/auth/me", live)).StatusCode == HttpStatusCode.OK, because);
                        break;
                    case "login":
                        Assert.True((await fx.Api.GetAsync("/auth/me", await fx.Api.LoginAsync(user, "api"))).StatusCode == HttpStatusCode.OK, because);
                        break;
                    case "refresh":
                        live = await fx.Api.RefreshAsync(live);
                        break;
                }
            }
        }
    }
}
