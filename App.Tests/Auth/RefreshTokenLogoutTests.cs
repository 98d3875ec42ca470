using System.Net;
using System.Text;
using SessionGate.Infrastructure;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Auth;

public sealed class RefreshTokenLogoutTests_Opaque(AppFixture<Opaque> fx, ITestOutputHelper o) : RefreshTokenLogoutTests<Opaque>(fx, o), IClassFixture<AppFixture<Opaque>>;
public sealed class RefreshTokenLogoutTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper o) : RefreshTokenOnlyLogoutTests<Blacklist>(fx, o), IClassFixture<AppFixture<Blacklist>>;
public sealed class RefreshTokenLogoutTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper o) : RefreshTokenOnlyLogoutTests<SessionCache>(fx, o), IClassFixture<AppFixture<SessionCache>>;

/// <summary>
/// <c>POST /auth/logout</c> with <c>{"refresh_token"}</c> and no access token (API.md, "The first hour"): a JWT client
/// whose access token expired need not refresh just to log out. Opaque has no refresh token.
/// </summary>
public abstract class RefreshTokenLogoutTests<TMode> where TMode : IMode
{
    private readonly AppFixture<TMode> _fx;

    protected RefreshTokenLogoutTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    protected AppFixture<TMode> Fx => _fx;
    protected ApiClient Api => _fx.Api;

    protected Task<HttpResponseMessage> LogoutAsync(string json, string? bearer = null, string contentType = "application/json") =>
        Api.SendAsync(HttpMethod.Post, "/auth/logout", configure: r =>
        {
            r.Content = new StringContent(json, Encoding.UTF8, contentType);
            if (bearer is not null) r.Headers.TryAddWithoutValidation("Authorization", "Bearer " + bearer);
        });

    protected static string RefreshBody(string? token) => System.Text.Json.JsonSerializer.Serialize(new { refresh_token = token });

    [Fact]
    public async Task A_valid_access_token_wins_over_the_body()
    {
        var user = await _fx.NewUserAsync();
        var first = await Api.LoginAsync(user);
        var second = await Api.LoginAsync(user, "mobile");
        var response = await LogoutAsync(RefreshBody(second.Refresh ?? "x"), bearer: first.Bearer);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", first), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", second)).StatusCode);
    }

    [Theory]
    [InlineData("{\"refresh_token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}")]
    [InlineData("{\"refresh_token\":\"short\"}")]
    [InlineData("{\"refresh_token\":\"sgr_not-one-of-ours-but-long-enough-to-look-like-it\"}")]
    public async Task An_unknown_or_malformed_refresh_token_is_refused_without_a_hint_and_ends_nothing(string body)
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        var response = await LogoutAsync(body);
        if (TMode.HasRefreshTokens) await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        else await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.NotSupportedInMode);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", login)).StatusCode);
    }

    [Theory]
    [InlineData("", "application/json")]
    [InlineData("{}", "application/json")]
    [InlineData("{\"refresh_token\":null}", "application/json")]
    [InlineData("{\"refresh_token\":\"\"}", "application/json")]
    public async Task Without_a_credential_or_a_refresh_token_it_is_401_unauthenticated(string body, string contentType)
    {
        var response = body.Length == 0
            ? await Api.SendAsync(HttpMethod.Post, "/auth/logout")
            : await LogoutAsync(body, contentType: contentType);
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.Unauthenticated);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_refused_and_ends_nothing()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        await Problem.AssertAsync(await LogoutAsync("{\"refresh_token\":"), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await LogoutAsync("refresh_token=" + (login.Refresh ?? login.Bearer), contentType: "application/x-www-form-urlencoded"),
            HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", login)).StatusCode);
    }

    [Fact]
    public async Task With_a_credential_any_body_is_ignored_as_before()
    {
        // A sign-out form posts a form body; a beacon, text. The credential decides, as it always did.
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        Assert.Equal(HttpStatusCode.NoContent, (await LogoutAsync("next=/", bearer: login.Bearer, contentType: "application/x-www-form-urlencoded")).StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }

    [Fact]
    public async Task A_revoked_access_token_alone_keeps_its_own_answer()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Post, "/auth/logout", login)).StatusCode);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/logout", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        await Problem.AssertAsync(await LogoutAsync("{}", bearer: login.Bearer), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }
}

/// <summary>The JWT modes, which hand out refresh tokens: the refresh token alone names the session to end.</summary>
public abstract class RefreshTokenOnlyLogoutTests<TMode>(AppFixture<TMode> fx, ITestOutputHelper output) : RefreshTokenLogoutTests<TMode>(fx, output)
    where TMode : IMode
{
    [Fact]
    public async Task The_refresh_token_alone_ends_its_session_and_nothing_else()
    {
        var user = await Fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var other = await Api.LoginAsync(user, "mobile");

        Assert.Equal(HttpStatusCode.NoContent, (await LogoutAsync(RefreshBody(login.Refresh))).StatusCode);

        await Problem.AssertAsync(await Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
        await Problem.AssertAsync(await Api.Http.PostAsync("/auth/refresh", new StringContent(RefreshBody(login.Refresh), Encoding.UTF8, "application/json")),
            HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", other)).StatusCode);

        var audit = await Api.GetAsync<ListPage<AuditEvent>>($"/admin/audit?user_id={user.Id}&type=logout", await Fx.AliceAsync());
        Assert.Equal(1, audit.Total);
        // Said once: the same token again is refused, like any dead token.
        await Problem.AssertAsync(await LogoutAsync(RefreshBody(login.Refresh)), HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
    }


    [Fact]
    public async Task A_dead_access_token_next_to_the_refresh_token_does_not_stand_in_the_way()
    {
        var login = await Api.LoginAsync(await Fx.NewUserAsync());
        // What an expired access token looks like to the scheme: not a credential it accepts.
        var response = await LogoutAsync(RefreshBody(login.Refresh), bearer: login.Bearer[..^4] + "AAAA");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }


    [Fact]
    public async Task A_spent_refresh_token_is_refused_and_ends_its_family_as_on_refresh()
    {
        var login = await Api.LoginAsync(await Fx.NewUserAsync());
        var next = await Api.RefreshAsync(login);
        await Problem.AssertAsync(await LogoutAsync(RefreshBody(login.Refresh)), HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        await Problem.AssertAsync(await Api.GetAsync("/auth/me", next), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "refresh-reused");
    }
}
