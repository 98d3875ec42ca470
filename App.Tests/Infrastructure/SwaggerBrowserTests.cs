using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>The app on a real Kestrel port, for a browser: the in-memory test server has no socket to open.</summary>
public sealed class KestrelAppFixture : AppFixture<Opaque>
{
    public string BaseUrl { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Factory.UseKestrel(0); // a port the kernel picks: never one another checkout holds
        Factory.StartServer();
        var addresses = Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseUrl = addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal)
            .Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
    }
}

/// <summary>A fact that runs only where Debian's chromium is installed (scripts/test installs it; CI has it).</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>The browser: <c>SG_CHROMIUM</c>, or Debian's package.</summary>
    public static string ExecutablePath { get; } = Environment.GetEnvironmentVariable("SG_CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(ExecutablePath))
            Skip = $"chromium is not installed at {ExecutablePath} (scripts/test installs Debian's chromium; set SG_CHROMIUM to use another).";
    }
}

/// <summary>Swagger UI as a newcomer sees it, in headless chromium.</summary>
public sealed class SwaggerBrowserTests : IClassFixture<KestrelAppFixture>, IAsyncLifetime
{
    private readonly KestrelAppFixture _fx;
    private readonly ITestOutputHelper _output;
    private readonly List<string> _pageErrors = [];
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public SwaggerBrowserTests(KestrelAppFixture fx, ITestOutputHelper output)
    {
        _fx = fx;
        _output = output;
        fx.Attach(output);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }

    private async Task<IPage> OpenSwaggerAsync()
    {
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumFactAttribute.ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await _browser.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        page.PageError += (_, error) => _pageErrors.Add(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error") _pageErrors.Add(message.Text);
        };

        // GET / redirects to Swagger UI.
        await page.GotoAsync(_fx.BaseUrl + "/");
        Assert.StartsWith(_fx.BaseUrl + "/swagger", page.Url, StringComparison.Ordinal);
        await page.Locator("#operations-Auth-Login").WaitForAsync();
        return page;
    }

    [ChromiumFact]
    public async Task Swagger_ui_loads_the_spec_auth_first_and_login_without_a_lock()
    {
        var page = await OpenSwaggerAsync();

        Assert.Equal(0, await page.Locator(".errors-wrapper").CountAsync());
        var tags = await page.Locator("h3.opblock-tag").EvaluateAllAsync<string[]>("tags => tags.map(t => t.getAttribute('data-tag'))");
        Assert.Equal("Auth", tags[0]);

        Assert.Equal(0, await page.Locator("#operations-Auth-Login .authorization__btn").CountAsync());
        Assert.Equal(0, await page.Locator("#operations-Keys-Jwks .authorization__btn").CountAsync());
        Assert.Equal(1, await page.Locator("#operations-Auth-Me .authorization__btn").CountAsync());

        // The Authorize dialog offers bearer only: no box that could not work.
        await page.Locator(".auth-wrapper .authorize").ClickAsync();
        var dialog = page.Locator(".dialog-ux .modal-ux");
        await dialog.WaitForAsync();
        Assert.Equal(1, await dialog.Locator(".auth-container").CountAsync());
        Assert.Contains("bearer", await dialog.Locator(".auth-container h4").InnerTextAsync(), StringComparison.Ordinal);
        await dialog.Locator(".close-modal").ClickAsync();

        Assert.True(_pageErrors.Count == 0, string.Join("\n", _pageErrors));
    }

    [ChromiumFact]
    public async Task Try_it_out_logs_in_with_the_example_and_the_session_cookie_then_works()
    {
        var page = await OpenSwaggerAsync();

        var login = page.Locator("#operations-Auth-Login");
        await login.Locator(".opblock-summary").ClickAsync();
        await login.Locator(".try-out__btn").ClickAsync();
        await login.Locator("button.execute").ClickAsync();
        var status = login.Locator(".live-responses-table .response .response-col_status");
        await status.WaitForAsync();
        var body = await login.Locator(".live-responses-table tr.response td.response-col_description").InnerTextAsync();
        _output.WriteLine(body);
        Assert.Equal("200", (await status.InnerTextAsync()).Trim());
        Assert.Contains("\"token_type\": \"Session\"", body, StringComparison.Ordinal);

        // Nothing pasted into Authorize: the browser sends the session cookie that the login set.
        var me = page.Locator("#operations-Auth-Me");
        await me.Locator(".opblock-summary").ClickAsync();
        await me.Locator(".try-out__btn").ClickAsync();
        await me.Locator("button.execute").ClickAsync();
        var meStatus = me.Locator(".live-responses-table .response .response-col_status");
        await meStatus.WaitForAsync();
        Assert.Equal("200", (await meStatus.InnerTextAsync()).Trim());
        Assert.Contains("\"username\": \"bob\"", await me.Locator(".live-responses-table tr.response td.response-col_description").InnerTextAsync(), StringComparison.Ordinal);
    }
}
