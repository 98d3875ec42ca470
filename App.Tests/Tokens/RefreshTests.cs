using System.Net;
using System.Net.Http.Json;
using SessionGate.Infrastructure;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Tokens;

public sealed class RefreshTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper o) : RefreshTests<Blacklist>(fx, o), IClassFixture<AppFixture<Blacklist>>;
public sealed class RefreshTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper o) : RefreshTests<SessionCache>(fx, o), IClassFixture<AppFixture<SessionCache>>;

/// <summary>Rotating refresh tokens (the JWT modes; Opaque answers not-supported-in-mode, see CookieTests).</summary>
public abstract class RefreshTests<TMode> where TMode : IMode
{
    private readonly AppFixture<TMode> _fx;

    protected RefreshTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    [Fact]
    public async Task A_refresh_rotates_the_pair_and_spends_the_old_refresh_token()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var next = await _fx.Api.RefreshAsync(login);
        Assert.NotEqual(login.Refresh, next.Refresh);
        Assert.NotEqual(login.Bearer, next.Bearer);
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync("/auth/me", next)).StatusCode);
        var me1 = await _fx.Api.MeAsync(login);
        var me2 = await _fx.Api.MeAsync(next);
        Assert.Equal(me1.Session.Id, me2.Session.Id);
        var third = await _fx.Api.RefreshAsync(next);
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync("/auth/me", third)).StatusCode);
    }

    [Fact]
    public async Task Reusing_a_spent_refresh_token_revokes_the_whole_family_and_is_audited()
    {
        var user = await _fx.NewUserAsync();
        var login = await _fx.Api.LoginAsync(user);
        var next = await _fx.Api.RefreshAsync(login);

        var replay = await _fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
        await Problem.AssertAsync(replay, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);

        // The newer token of the family dies too, and so does the session's access token.
        var newer = await _fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = next.Refresh });
        await Problem.AssertAsync(newer, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        // Its own reason: theft detection is not an administrator's kick.
        await Problem.AssertAsync(await _fx.Api.GetAsync("/auth/me", next), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "refresh-reused");

        var audit = await _fx.Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&type=refresh-token.reused", await _fx.AliceAsync());
        Assert.Equal(1, audit.Total);
    }

    [Fact]
    public async Task Of_concurrent_refreshes_with_one_token_exactly_one_succeeds()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var attempts = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ =>
            _fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh })));
        // The session row lock lets exactly one rotate; the others present a token already rotated and are refused.
        Assert.Single(attempts, r => r.StatusCode == HttpStatusCode.OK);
        foreach (var refused in attempts.Where(r => r.StatusCode != HttpStatusCode.OK))
            await Problem.AssertAsync(refused, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
    }

    [Theory]
    [InlineData("{\"refresh_token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}")]
    [InlineData("{\"refresh_token\":\"short\"}")]
    [InlineData("{\"refresh_token\":null}")]
    [InlineData("{}")]
    public async Task An_unknown_or_malformed_refresh_token_is_refused(string body)
    {
        var response = await _fx.Api.Http.PostAsync("/auth/refresh", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
    }
}
