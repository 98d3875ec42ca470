using System.Net;
using System.Net.Http.Json;
using SessionGate.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>An app that lists one single-page app's origin in <c>Cors:AllowedOrigins</c>.</summary>
public sealed class CorsFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public const string Listed = "http://localhost:3000";
    public const string Unlisted = "http://localhost:3001";

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Cors:AllowedOrigins:0"] = Listed;
        settings["Cors:AllowedOrigins:1"] = "https://app.example.com/"; // a trailing slash is forgiven
    }
}

public sealed class CorsTests_Opaque(CorsFixture<Opaque> fx, ITestOutputHelper o) : CorsTests<Opaque>(fx, o), IClassFixture<CorsFixture<Opaque>>;
public sealed class CorsTests_Blacklist(CorsFixture<Blacklist> fx, ITestOutputHelper o) : CorsTests<Blacklist>(fx, o), IClassFixture<CorsFixture<Blacklist>>;
public sealed class CorsTests_SessionCache(CorsFixture<SessionCache> fx, ITestOutputHelper o) : CorsTests<SessionCache>(fx, o), IClassFixture<CorsFixture<SessionCache>>;

/// <summary>
/// CORS (API.md, "The first hour"): the listed origins get answers with credentials on /auth/* and /api/*, preflight
/// included; any other origin gets no Access-Control-* header at all; the cookie's cross-site rule still holds.
/// </summary>
public abstract class CorsTests<TMode> where TMode : IMode
{
    private readonly CorsFixture<TMode> _fx;

    protected CorsTests(CorsFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    private ApiClient Api => _fx.Api;

    private Task<HttpResponseMessage> PreflightAsync(string path, string origin, string method = "POST", string headers = "content-type") =>
        Api.SendAsync(HttpMethod.Options, path, configure: r =>
        {
            r.Headers.Add("Origin", origin);
            r.Headers.Add("Access-Control-Request-Method", method);
            r.Headers.Add("Access-Control-Request-Headers", headers);
        });

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    private static void AssertNoCors(HttpResponseMessage response) =>
        Assert.DoesNotContain(response.Headers, h => h.Key.StartsWith("Access-Control-", StringComparison.OrdinalIgnoreCase));

    [Theory]
    [InlineData("/auth/login", "POST", "content-type")]
    [InlineData("/auth/me", "GET", "authorization")]
    [InlineData("/auth/sessions/6f1d2c1e-8f6e-4c38-9d51-0b1f4a3c2e10", "DELETE", "authorization")]
    [InlineData("/api/profile", "GET", "authorization")]
    public async Task A_listed_origin_gets_its_preflight_answered_with_credentials(string path, string method, string headers)
    {
        var response = await PreflightAsync(path, CorsFixture<TMode>.Listed, method, headers);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(CorsFixture<TMode>.Listed, Header(response, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(response, "Access-Control-Allow-Credentials"));
        Assert.Contains(method, Header(response, "Access-Control-Allow-Methods")!, StringComparison.Ordinal);
        Assert.Contains(headers, Header(response, "Access-Control-Allow-Headers")!, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("600", Header(response, "Access-Control-Max-Age"));
    }

    [Theory]
    [InlineData("/auth/login")]
    [InlineData("/api/profile")]
    public async Task Another_origin_gets_no_cors_header_on_a_preflight(string path)
    {
        foreach (var origin in new[] { CorsFixture<TMode>.Unlisted, "https://localhost:3000", "http://evil.example", "null" })
            AssertNoCors(await PreflightAsync(path, origin));
    }

    [Fact]
    public async Task A_listed_origin_reads_the_answers_and_the_errors_and_another_origin_none()
    {
        var user = await _fx.NewUserAsync();
        var body = new { tenant = user.Tenant, username = user.Username, password = user.Password };
        var login = await Api.SendAsync(HttpMethod.Post, "/auth/login", body: body, configure: r => r.Headers.Add("Origin", CorsFixture<TMode>.Listed));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
        Assert.Equal(CorsFixture<TMode>.Listed, Header(login, "Access-Control-Allow-Origin"));
        Assert.Equal("true", Header(login, "Access-Control-Allow-Credentials"));
        Assert.Contains("Origin", Header(login, "Vary") ?? "", StringComparison.Ordinal);
        var session = await ApiClient.ReadLoginAsync(login);

        var profile = await Api.SendAsync(HttpMethod.Get, "/api/profile", session, configure: r => r.Headers.Add("Origin", CorsFixture<TMode>.Listed));
        Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
        Assert.Equal(CorsFixture<TMode>.Listed, Header(profile, "Access-Control-Allow-Origin"));

        // A refusal is readable too (the page must see why), with the headers a client needs exposed.
        var refused = await Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r =>
        {
            r.Headers.Add("Origin", CorsFixture<TMode>.Listed);
            r.Headers.TryAddWithoutValidation("Authorization", "Bearer not-a-credential");
        });
        await Problem.AssertAsync(refused, HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        Assert.Equal(CorsFixture<TMode>.Listed, Header(refused, "Access-Control-Allow-Origin"));
        Assert.Contains("WWW-Authenticate", Header(refused, "Access-Control-Expose-Headers")!, StringComparison.OrdinalIgnoreCase);

        // The same requests from an unlisted origin are answered as before, with no CORS header: its page reads nothing.
        var other = await Api.SendAsync(HttpMethod.Get, "/api/profile", session, configure: r => r.Headers.Add("Origin", CorsFixture<TMode>.Unlisted));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        AssertNoCors(other);
        AssertNoCors(await Api.SendAsync(HttpMethod.Post, "/auth/login", body: body, configure: r => r.Headers.Add("Origin", CorsFixture<TMode>.Unlisted)));
    }

    [Fact]
    public async Task Only_the_auth_and_api_routes_answer_cors()
    {
        var admin = await _fx.AliceAsync();
        AssertNoCors(await PreflightAsync("/admin/users", CorsFixture<TMode>.Listed, "GET", "authorization"));
        AssertNoCors(await Api.SendAsync(HttpMethod.Get, "/admin/users", admin, configure: r => r.Headers.Add("Origin", CorsFixture<TMode>.Listed)));
        AssertNoCors(await Api.SendAsync(HttpMethod.Get, "/.well-known/jwks.json", configure: r => r.Headers.Add("Origin", CorsFixture<TMode>.Listed)));
        AssertNoCors(await PreflightAsync("/auth/verify", CorsFixture<TMode>.Listed, "GET", "authorization"));
    }

    [Fact]
    public async Task The_cookie_rule_still_holds_for_a_listed_origin()
    {
        var login = await Api.LoginAsync(await _fx.NewUserAsync());
        if (!TMode.CookieIsCredential)
        {
            Assert.Null(login.Cookie); // no session cookie in this mode, so no cookie rule to hold
            return;
        }
        var response = await Api.SendAsync(HttpMethod.Post, "/auth/logout", configure: r =>
        {
            r.Headers.Add("Cookie", login.Cookie);
            r.Headers.Add("Origin", CorsFixture<TMode>.Listed);
        });
        await Problem.AssertAsync(response, HttpStatusCode.Forbidden, Problems.CrossSiteRequest);
        Assert.Equal(CorsFixture<TMode>.Listed, Header(response, "Access-Control-Allow-Origin")); // readable, and refused
        Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync("/auth/me", login)).StatusCode);
        // Reads with the cookie are allowed from the listed origin, as from any: a cookie read changes nothing.
        var me = await Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r =>
        {
            r.Headers.Add("Cookie", login.Cookie);
            r.Headers.Add("Origin", CorsFixture<TMode>.Listed);
        });
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal("true", Header(me, "Access-Control-Allow-Credentials"));
    }

    [Fact]
    public async Task Without_listed_origins_nobody_gets_a_cors_header()
    {
        var plain = _fx.AnotherInstance(s =>
        {
            foreach (var key in s.Keys.Where(k => k.StartsWith("Cors:", StringComparison.Ordinal)).ToList()) s.Remove(key);
        });
        var preflight = await plain.SendAsync(HttpMethod.Options, "/auth/login", configure: r =>
        {
            r.Headers.Add("Origin", CorsFixture<TMode>.Listed);
            r.Headers.Add("Access-Control-Request-Method", "POST");
        });
        AssertNoCors(preflight);
        AssertNoCors(await plain.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.Add("Origin", CorsFixture<TMode>.Listed)));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("http://localhost:3000/app")]
    [InlineData("localhost:3000")]
    [InlineData("ftp://localhost")]
    [InlineData("http://*.example.com")]
    public void A_listed_origin_that_is_not_one_stops_the_start(string origin)
    {
        var bad = _fx.AnotherInstance(s => s["Cors:AllowedOrigins:0"] = origin);
        var e = Assert.ThrowsAny<Exception>(() => bad.Http);
        Assert.Contains("Cors:AllowedOrigins must list origins only", e.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_from_a_listed_origin_is_judged_as_any_other()
    {
        var response = await Api.Http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/auth/login")
        {
            Content = JsonContent.Create(new { tenant = "acme" }),
            Headers = { { "Origin", CorsFixture<TMode>.Listed } },
        });
        await Problem.AssertAsync(response, HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal(CorsFixture<TMode>.Listed, Header(response, "Access-Control-Allow-Origin"));
    }
}
