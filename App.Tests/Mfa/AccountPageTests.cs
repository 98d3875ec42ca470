using System.Net;
using System.Text.RegularExpressions;
using SessionGate.Account;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Mfa;

/// <summary>The account pages as files: served by the app, a strict CSP, no inline script, nothing from elsewhere.</summary>
public sealed partial class AccountPageTests : IClassFixture<AppFixture<Opaque>>
{
    private readonly AppFixture<Opaque> _fx;

    public AccountPageTests(AppFixture<Opaque> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    [Theory]
    [InlineData("/account")]
    [InlineData("/account/security")]
    public async Task The_page_is_plain_html_under_a_strict_csp_with_no_inline_script(string path)
    {
        var response = await _fx.Api.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Equal(AccountPages.ContentSecurityPolicy, csp);
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
        var html = await response.Content.ReadAsStringAsync();
        var scripts = ScriptTag().Matches(html).Select(m => m.Value).ToList();
        // The /auth client the admin console shares, then the page's own.
        Assert.Equal(["<script src=\"/account/auth-client.js\" defer>", "<script src=\"/account/account.js\" defer>"], scripts);
        Assert.Equal(scripts.Count, Regex.Count(html, "</script>")); // every script tag is empty: no inline script
        Assert.DoesNotMatch(" on[a-z]+=", html); // no inline event handlers
        Assert.DoesNotContain("style=", html, StringComparison.Ordinal);
        Assert.Contains("name=\"viewport\"", html, StringComparison.Ordinal); // readable on a phone
    }

    [Fact]
    public async Task Its_scripts_and_style_come_from_the_app_and_load_nothing_from_elsewhere()
    {
        foreach (var (path, type) in new[]
        {
            ("/account", "text/html"), ("/account/auth-client.js", "text/javascript"), ("/account/account.js", "text/javascript"),
            ("/account/account.css", "text/css"),
        })
        {
            var response = await _fx.Api.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(type, response.Content.Headers.ContentType?.MediaType);
            var text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotMatch("(https?:)?//[a-z0-9.-]+\\.[a-z]{2,}/", text);
            Assert.DoesNotContain("@import", text, StringComparison.Ordinal);
            var etag = response.Headers.ETag!;
            var again = await _fx.Api.SendAsync(HttpMethod.Get, path, configure: r => r.Headers.IfNoneMatch.Add(etag));
            Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await _fx.Api.GetAsync("/account/other.js")).StatusCode);
    }

    [GeneratedRegex("<script[^>]*>", RegexOptions.IgnoreCase)]
    private static partial Regex ScriptTag();
}
