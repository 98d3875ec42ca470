using Microsoft.Playwright;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Mfa;
using Xunit.Abstractions;

// Not SessionGate.Tests.Console: that namespace would hide System.Console from the tests around it.
namespace SessionGate.Tests.AdminConsole;

/// <summary>
/// Driving the console in chromium as a person does: each sign-in gets its own browser context (its own cookie jar),
/// a page error or CSP violation fails the test, and screenshots are kept under .local/screenshots/console.
/// </summary>
public abstract class ConsoleBrowser<TMode> : IAsyncLifetime where TMode : IMode
{
    protected readonly AccountBrowserFixture<TMode> Fx;
    protected readonly ITestOutputHelper Output;
    private readonly List<IBrowserContext> _contexts = [];
    private readonly List<string> _pageErrors = [];

    protected ConsoleBrowser(AccountBrowserFixture<TMode> fx, ITestOutputHelper output)
    {
        Fx = fx;
        Output = output;
        fx.Attach(output);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var c in _contexts) await c.DisposeAsync();
    }

    protected ApiClient Api => Fx.Api;

    /// <summary>Opens /console in a fresh browser, is sent to /account, signs in there and comes back.</summary>
    protected async Task<IPage> SignInAsync(string tenant, string username, string password, int width = 1280, int height = 860)
    {
        var context = await Fx.Browser!.NewContextAsync(new() { ViewportSize = new() { Width = width, Height = height } });
        _contexts.Add(context);
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        page.PageError += (_, error) => _pageErrors.Add(error);
        page.Console += (_, message) =>
        {
            // A 4xx the page handles is logged by chromium as a failed resource: only script and CSP errors count.
            if (message.Type == "error" && !message.Text.Contains("Failed to load resource", StringComparison.Ordinal)) _pageErrors.Add(message.Text);
        };
        // The console sends the browser on to /account while it loads, and /account sends it back: locators, which
        // keep looking across navigations, wait for each page rather than for a navigation event.
        await page.GotoAsync(Fx.BaseUrl + "/console", new() { WaitUntil = WaitUntilState.Commit });
        await page.Locator("#signin").WaitForAsync(new() { State = WaitForSelectorState.Visible });
        Assert.Matches("/account\\?return=%2Fconsole$", page.Url);
        Assert.Equal("Sign in to the admin console", await page.InnerTextAsync("#signin-title"));
        await page.FillAsync("#tenant", tenant);
        await page.FillAsync("#username", username);
        await page.FillAsync("#password", password);
        await page.ClickAsync("#signin-submit");
        await page.Locator("body[data-ready]:not([data-ready=''])").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        Assert.Matches("/console(#[a-z]+)?$", page.Url);
        Assert.Contains(username, await page.InnerTextAsync("#who"), StringComparison.Ordinal);
        return page;
    }

    protected Task<IPage> SignInAsync(TestUser user, int width = 1280) => SignInAsync(user.Tenant, user.Username, user.Password, width);

    protected Task<IPage> AliceAsync() => SignInAsync("acme", "alice", AppFixture<TMode>.DemoPassword);

    /// <summary>Waits until the console has drawn <paramref name="name"/> (a redraw clears the mark while it runs).</summary>
    protected static Task ReadyAsync(IPage page, string name) =>
        page.WaitForFunctionAsync("n => document.body.dataset.ready === n", name);

    protected static async Task OpenAsync(IPage page, string hash, string name)
    {
        // The mark is cleared first, so the wait below sees this navigation's redraw, not the last one.
        await page.EvaluateAsync("h => { document.body.dataset.ready = ''; if (location.hash === '#' + h) redraw(); else location.hash = h; }", hash);
        await ReadyAsync(page, name);
    }

    protected static async Task MessageAsync(IPage page, string contains)
    {
        await page.Locator("#message").WaitForAsync(new() { State = WaitForSelectorState.Visible });
        await page.WaitForFunctionAsync("t => document.getElementById('message').textContent.includes(t)", contains);
    }

    /// <summary>Clicks (twice for a button that asks to be confirmed), waits for the message, then for the redraw.</summary>
    protected static async Task ActAsync(IPage page, string selector, string message, string redrawn, bool confirm = false)
    {
        await page.ClickAsync(selector);
        if (confirm) await page.ClickAsync(selector);
        await MessageAsync(page, message);
        await ReadyAsync(page, redrawn);
    }

    protected static Task<int> CountAsync(IPage page, string selector) => page.Locator(selector).CountAsync();

    protected static Task<string[]> NavAsync(IPage page) =>
        page.EvaluateAsync<string[]>("() => [...document.querySelectorAll('#nav a')].map(a => a.dataset.page)");

    protected void NoPageErrors() => Assert.True(_pageErrors.Count == 0, "page errors: " + string.Join("\n", _pageErrors));

    protected async Task ScreenshotAsync(IPage page, string name, bool readme = false)
    {
        // Always kept under .local/ (ignored by git); the README's are copied into docs/img/ when SG_UPDATE_SCREENSHOTS=1.
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "App.sln"))) root = root.Parent;
        var bytes = await page.ScreenshotAsync(new() { FullPage = true });
        var local = Path.Combine(root?.FullName ?? AppContext.BaseDirectory, ".local", "screenshots", "console");
        Directory.CreateDirectory(local);
        await File.WriteAllBytesAsync(Path.Combine(local, $"{typeof(TMode).Name}-{name}.png"), bytes);
        if (!readme || root is null || typeof(TMode) != typeof(Opaque) || Environment.GetEnvironmentVariable("SG_UPDATE_SCREENSHOTS") != "1") return;
        var docs = Path.Combine(root.FullName, "docs", "img");
        Directory.CreateDirectory(docs);
        await File.WriteAllBytesAsync(Path.Combine(docs, $"console-{name}.png"), bytes);
        Output.WriteLine($"screenshot: docs/img/console-{name}.png");
    }
}
