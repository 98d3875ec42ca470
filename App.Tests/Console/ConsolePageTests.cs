using System.Net;
using System.Text.RegularExpressions;
using SessionGate.Account;
using SessionGate.AdminConsole;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.AdminConsole;

/// <summary>
/// The console as files: served by the app under a strict CSP, no inline script, nothing from elsewhere, no token kept
/// in web storage; and the one API addition it needed (searching users by name).
/// </summary>
public sealed partial class ConsolePageTests : IClassFixture<AppFixture<Opaque>>
{
    private readonly AppFixture<Opaque> _fx;

    public ConsolePageTests(AppFixture<Opaque> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    // The /auth client the console shares with the account pages (served there), then its own scripts.
    private static IEnumerable<string> ScriptPaths() => [ConsoleApi.AuthClient, .. ConsoleApi.Scripts.Select(s => "/console/" + s)];

    private static IEnumerable<string> Files() => ["/console", "/console/console.css", .. ScriptPaths()];

    [Fact]
    public async Task The_page_is_plain_html_under_a_strict_csp_with_no_inline_script()
    {
        var response = await _fx.Api.GetAsync("/console");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Equal(ConsoleApi.ContentSecurityPolicy, csp);
        Assert.StartsWith("default-src 'none';", csp, StringComparison.Ordinal);
        Assert.Contains("script-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("connect-src 'self';", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("*", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("http", csp, StringComparison.Ordinal);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());

        var html = await response.Content.ReadAsStringAsync();
        var scripts = ScriptTag().Matches(html).Select(m => m.Value).ToList();
        Assert.Equal(ScriptPaths().Select(p => $"<script src=\"{p}\" defer>"), scripts);
        Assert.Equal(scripts.Count, Regex.Count(html, "</script>")); // every script tag is empty: no inline script
        Assert.DoesNotMatch(" on[a-z]+=", html); // no inline event handlers
        Assert.DoesNotContain("style=", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<style", html, StringComparison.Ordinal);
        Assert.Contains("name=\"viewport\"", html, StringComparison.Ordinal); // readable on a phone
    }

    [Fact]
    public async Task Every_file_comes_from_the_app_and_references_nothing_elsewhere()
    {
        foreach (var path in Files())
        {
            var response = await _fx.Api.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var csp = path == ConsoleApi.AuthClient ? AccountPages.ContentSecurityPolicy : ConsoleApi.ContentSecurityPolicy;
            Assert.Equal(csp, response.Headers.GetValues("Content-Security-Policy").Single());
            var text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotMatch("(https?:)?//[a-z0-9.-]+\\.[a-z]{2,}", text);
            Assert.DoesNotContain("@import", text, StringComparison.Ordinal);
            Assert.DoesNotMatch("(?<![A-Za-z0-9_])url\\(", text); // CSS url(): nothing fetched by the style sheet
            // Built with DOM nodes and textContent, never markup from data; tokens never in web storage that outlives the tab.
            Assert.DoesNotContain("innerHTML", text, StringComparison.Ordinal);
            Assert.DoesNotContain("eval(", text, StringComparison.Ordinal);
            Assert.DoesNotContain("localStorage", text, StringComparison.Ordinal);
            Assert.DoesNotContain("document.cookie", text, StringComparison.Ordinal);
            var etag = response.Headers.ETag!;
            var again = await _fx.Api.SendAsync(HttpMethod.Get, path, configure: r => r.Headers.IfNoneMatch.Add(etag));
            Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _fx.Api.GetAsync("/console/other.js")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _fx.Api.GetAsync("/console/../appsettings.json")).StatusCode);
    }

    [Fact]
    public async Task The_console_calls_only_the_public_auth_and_admin_api()
    {
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var path in ScriptPaths())
        {
            var text = await (await _fx.Api.GetAsync(path)).Content.ReadAsStringAsync();
            foreach (Match m in ApiPath().Matches(text)) used.Add(m.Groups[1].Value);
        }
        Assert.NotEmpty(used);
        Assert.All(used, p => Assert.Matches("^/(auth|admin|\\.well-known)/", p));
    }

    [Fact]
    public async Task The_users_list_searches_usernames_literally_and_case_insensitively()
    {
        var alice = await _fx.AliceAsync();
        var tag = Guid.NewGuid().ToString("N")[..8];
        foreach (var name in new[] { $"Find.{tag}", $"find_{tag}x", $"other{tag}" })
        {
            var r = await _fx.Api.SendAsync(HttpMethod.Post, "/admin/users", alice, new { username = name, password = "pw-" + Guid.NewGuid().ToString("N"), roles = Array.Empty<string>() });
            Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        }
        async Task<string[]> SearchAsync(string q)
        {
            var body = await (await _fx.Api.GetAsync("/admin/users?size=100&q=" + Uri.EscapeDataString(q), alice)).ReadAsync<Paged<UserListed>>();
            Assert.Equal(body.Items.Length, body.Total);
            return [.. body.Items.Select(u => u.Username).Order(StringComparer.Ordinal)];
        }
        // Anywhere in the name, any case (other users of this database may match too: only ours are looked at).
        Assert.Equal([$"Find.{tag}", $"find_{tag}x"], (await SearchAsync("IND")).Where(n => n.Contains(tag, StringComparison.Ordinal)));
        Assert.Equal([$"find_{tag}x"], await SearchAsync($"find_{tag}"));   // _ is a character, not LIKE's any-one wildcard
        Assert.Equal([$"Find.{tag}"], await SearchAsync($"D.{tag.ToUpperInvariant()}"));
        Assert.Empty(await SearchAsync($"%{tag}%x"));                       // % too
        Assert.Equal(3, (await SearchAsync(tag)).Length);

        var tooLong = await _fx.Api.GetAsync("/admin/users?q=" + new string('a', 129), alice);
        var problem = await Problem.AssertAsync(tooLong, HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal("q", problem.Field);
        var bob = await _fx.Api.LoginAsync("acme", "bob", AppFixture<Opaque>.DemoPassword);
        await Problem.AssertAsync(await _fx.Api.GetAsync("/admin/users?q=a", bob), HttpStatusCode.Forbidden, Problems.Forbidden);
    }

    [GeneratedRegex("<script[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();

    // A path literal the scripts send requests to: '/auth/...', '/admin/...' or '/.well-known/...'.
    [GeneratedRegex("'(/[a-z.-]+/[^']*)'")]
    private static partial Regex ApiPath();
}
