using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Auth;

/// <summary>The session cookie is a credential in Opaque mode only; cross-site requests may not change state with it.</summary>
public sealed class CookieTests : IClassFixture<AppFixture<Opaque>>
{
    private readonly AppFixture<Opaque> _fx;

    public CookieTests(AppFixture<Opaque> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    private static Action<HttpRequestMessage> WithCookie(Login login, string? origin = null, string? fetchSite = null) => r =>
    {
        r.Headers.Add("Cookie", $"theme=dark; {login.Cookie}");
        if (origin is not null) r.Headers.Add("Origin", origin);
        if (fetchSite is not null) r.Headers.Add("Sec-Fetch-Site", fetchSite);
    };

    [Fact]
    public async Task The_cookie_authenticates_reads()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var response = await _fx.Api.SendAsync(HttpMethod.Get, "/auth/me", configure: WithCookie(login, "https://evil.example", "cross-site"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task The_cookie_still_counts_next_to_another_schemes_authorization_header()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var response = await _fx.Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r =>
        {
            r.Headers.Add("Cookie", login.Cookie);
            r.Headers.TryAddWithoutValidation("Authorization", "Basic YWxpY2U6cGFzc3dvcmQ=");
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("https://evil.example", null)]
    [InlineData(null, "cross-site")]
    [InlineData("http://localhost.evil.example", "same-site")]
    [InlineData("null", null)]
    [InlineData("https://localhost", null)]
    public async Task A_cross_site_state_change_with_the_cookie_is_refused_and_changes_nothing(string? origin, string? fetchSite)
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var response = await _fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", configure: WithCookie(login, origin, fetchSite));
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, Problems.CrossSiteRequest);
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync("/auth/me", login)).StatusCode);
    }

    [Fact]
    public async Task A_same_origin_logout_with_the_cookie_works_and_clears_it()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var response = await _fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", configure: WithCookie(login, "http://localhost", "same-origin"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        var cleared = response.Headers.GetValues("Set-Cookie").Single();
        Assert.StartsWith("__Host-sid=;", cleared);
        Assert.Contains("expires=Thu, 01 Jan 1970", cleared);
        await Problem.AssertAsync(await _fx.Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "logged-out");
    }

    [Fact]
    public async Task A_bearer_header_is_not_subject_to_the_cookie_rule()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var response = await _fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", login, configure: r => r.Headers.Add("Origin", "https://evil.example"));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Refresh_is_not_supported_in_opaque_mode()
    {
        var response = await _fx.Api.Http.PostAsync("/auth/refresh", System.Net.Http.Json.JsonContent.Create(new { refresh_token = "x" }));
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.NotSupportedInMode);
    }
}

/// <summary>In the JWT modes the cookie is no credential at all.</summary>
public sealed class CookieIgnoredTests_Blacklist(AppFixture<Blacklist> fx) : IClassFixture<AppFixture<Blacklist>>
{
    [Fact]
    public async Task A_session_cookie_alone_does_not_authenticate()
    {
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        var response = await fx.Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.Add("Cookie", "__Host-sid=" + login.Bearer));
        await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.Unauthenticated);
    }
}
