using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Mfa;

/// <summary>
/// The app on a real Kestrel port on <c>localhost</c> (WebAuthn needs a domain, and http://localhost is a secure
/// context), with the relying party's origin set to it, and one headless chromium for the class.
/// </summary>
public sealed class AccountBrowserFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public const int CeremonySeconds = 8;
    private int _port;

    public string BaseUrl => $"http://localhost:{_port}";
    public IPlaywright? Playwright { get; private set; }
    public IBrowser? Browser { get; private set; }

    protected override bool UsesTestClock => true;

    /// <summary>The app's clock: it keeps pace with real time, and a test moves it ahead rather than sleeping.</summary>
    public new TestClock Clock => base.Clock!;


    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["WebAuthn:RpId"] = "localhost";
        settings["WebAuthn:Origins:0"] = BaseUrl;
        settings["WebAuthn:ChallengeLifetime"] = TimeSpan.FromSeconds(CeremonySeconds).ToString();
    }

    public override async Task InitializeAsync()
    {
        // The origin must be configured before the app starts: take a free port from the kernel, then listen on it.
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            _port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        await base.InitializeAsync();
        Factory.UseKestrel(_port);
        Factory.StartServer();
        Api = new ApiClient(Factory, new Uri(BaseUrl));
        if (!File.Exists(ChromiumFactAttribute.ExecutablePath)) return;
        Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        Browser = await Playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumFactAttribute.ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    public override async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        await base.DisposeAsync();
    }
}

public sealed class AccountBrowserTests_Opaque(AccountBrowserFixture<Opaque> fx, ITestOutputHelper o) : AccountBrowserTests<Opaque>(fx, o), IClassFixture<AccountBrowserFixture<Opaque>>;
public sealed class AccountBrowserTests_Blacklist(AccountBrowserFixture<Blacklist> fx, ITestOutputHelper o) : AccountBrowserTests<Blacklist>(fx, o), IClassFixture<AccountBrowserFixture<Blacklist>>;
public sealed class AccountBrowserTests_SessionCache(AccountBrowserFixture<SessionCache> fx, ITestOutputHelper o) : AccountBrowserTests<SessionCache>(fx, o), IClassFixture<AccountBrowserFixture<SessionCache>>;

/// <summary>
/// /account and /account/security as a person uses them, in headless chromium with Chromium's virtual WebAuthn
/// authenticator (DevTools protocol), every mode. A CSP violation or a script error fails the test.
/// </summary>
public abstract class AccountBrowserTests<TMode> : IAsyncLifetime where TMode : IMode
{
    private readonly AccountBrowserFixture<TMode> _fx;
    private readonly ITestOutputHelper _output;
    private readonly MfaSteps _steps;
    private readonly List<string> _pageErrors = [];
    private IBrowserContext? _context;

    protected AccountBrowserTests(AccountBrowserFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        _output = output;
        _steps = new MfaSteps(fx.Api);
        fx.Attach(output);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_context is not null) await _context.DisposeAsync();
    }

    private sealed record Browsing(IPage Page, ICDPSession Cdp, string AuthenticatorId);

    private async Task<Browsing> OpenAsync()
    {
        _context = await _fx.Browser!.NewContextAsync(new() { ViewportSize = new() { Width = 420, Height = 900 } });
        var page = await _context.NewPageAsync();
        page.SetDefaultTimeout(30_000);
        page.PageError += (_, error) => _pageErrors.Add(error);
        page.Console += (_, message) =>
        {
            // A 4xx the page handles is logged by chromium as a failed resource: only script and CSP errors count.
            if (message.Type == "error" && !message.Text.Contains("Failed to load resource", StringComparison.Ordinal)) _pageErrors.Add(message.Text);
        };
        var cdp = await _context.NewCDPSessionAsync(page);
        await cdp.SendAsync("WebAuthn.enable");
        var added = await cdp.SendAsync("WebAuthn.addVirtualAuthenticator", new Dictionary<string, object>
        {
            ["options"] = new Dictionary<string, object>
            {
                ["protocol"] = "ctap2", ["transport"] = "internal", ["hasResidentKey"] = true,
                ["hasUserVerification"] = true, ["isUserVerified"] = true, ["automaticPresenceSimulation"] = true,
            },
        });
        var id = added!.Value.Deserialize<VirtualAuthenticator>(JsonSerializerOptions.Web)!.AuthenticatorId;
        await page.GotoAsync(_fx.BaseUrl + "/account?tenant=acme");
        await page.Locator("#signin").WaitForAsync();
        return new Browsing(page, cdp, id);
    }

    private static async Task SignInWithPasswordAsync(IPage page, TestUser user)
    {
        await page.FillAsync("#tenant", user.Tenant);
        await page.FillAsync("#username", user.Username);
        await page.FillAsync("#password", user.Password);
        await page.ClickAsync("#signin-submit");
    }

    private static Task VisibleAsync(IPage page, string selector) => page.Locator(selector).WaitForAsync(new() { State = WaitForSelectorState.Visible });

    private static async Task MessageAsync(IPage page, string contains)
    {
        await VisibleAsync(page, "#message");
        await page.WaitForFunctionAsync("t => document.getElementById('message').textContent.includes(t)", contains);
    }

    private static async Task SignOutAsync(IPage page)
    {
        await page.ClickAsync("#signout");
        await VisibleAsync(page, "#signin");
    }

    private async Task ScreenshotAsync(IPage page, string name)
    {
        // Always kept with the test results; copied into docs/ (for the README) when SG_UPDATE_SCREENSHOTS=1.
        var results = Path.Combine(AppContext.BaseDirectory, "screenshots");
        Directory.CreateDirectory(results);
        var bytes = await page.ScreenshotAsync(new() { FullPage = true });
        await File.WriteAllBytesAsync(Path.Combine(results, $"{typeof(TMode).Name}-{name}.png"), bytes);
        if (typeof(TMode) != typeof(Opaque) || Environment.GetEnvironmentVariable("SG_UPDATE_SCREENSHOTS") != "1") return;
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "App.sln"))) root = root.Parent;
        if (root is null) return;
        var docs = Path.Combine(root.FullName, "docs", "account");
        Directory.CreateDirectory(docs);
        await File.WriteAllBytesAsync(Path.Combine(docs, name + ".png"), bytes);
        _output.WriteLine($"screenshot: docs/account/{name}.png");
    }

    private void NoPageErrors() => Assert.True(_pageErrors.Count == 0, "page errors: " + string.Join("\n", _pageErrors));

    [ChromiumFact]
    public async Task Enrol_totp_on_the_security_page_then_sign_in_with_password_and_code_refusing_wrong_and_reused_codes()
    {
        var user = await _fx.NewUserAsync();
        var (page, _, _) = await OpenAsync();
        await ScreenshotAsync(page, "signin");
        await SignInWithPasswordAsync(page, user);
        await VisibleAsync(page, "#security");
        Assert.EndsWith("/account/security", page.Url, StringComparison.Ordinal);
        Assert.Contains("aal1", await page.InnerTextAsync("#acr"), StringComparison.Ordinal);

        await page.ClickAsync("#totp-start");
        await VisibleAsync(page, "#totp-enrol");
        var secret = (await page.InnerTextAsync("#totp-secret")).Trim();
        Assert.Matches("^[A-Z2-7]{32}$", secret);
        await page.WaitForFunctionAsync("() => document.getElementById('totp-qr').src.startsWith('blob:') && document.getElementById('totp-qr').complete");
        Assert.True(await page.EvaluateAsync<bool>("() => document.getElementById('totp-qr').naturalWidth > 100"));
        await ScreenshotAsync(page, "security-totp");
        var enrolled = Codes.At(secret);
        await page.FillAsync("#totp-code", enrolled);
        await page.ClickAsync("#totp-confirm");
        await VisibleAsync(page, "#codes-new-list");
        Assert.Equal(10, await page.Locator("#codes-list li").CountAsync());
        Assert.Contains("On", await page.InnerTextAsync("#totp-status"), StringComparison.Ordinal);
        await ScreenshotAsync(page, "security");

        await SignOutAsync(page);
        await SignInWithPasswordAsync(page, user);
        await VisibleAsync(page, "#second");
        Assert.True(await page.Locator("#code-form").IsVisibleAsync());
        Assert.False(await page.Locator("#second-passkey").IsVisibleAsync()); // no passkey on this account
        await ScreenshotAsync(page, "signin-second-factor");
        var right = Codes.At(secret, 1);
        await page.FillAsync("#code", right == "000000" ? "999999" : "000000");
        await page.ClickAsync("#code-submit");
        await MessageAsync(page, "not accepted");
        await page.FillAsync("#code", enrolled); // the one the enrolment used (not the current one: a new step may have begun)
        await page.ClickAsync("#code-submit");
        await MessageAsync(page, "not accepted");
        Assert.True(await page.Locator("#second").IsVisibleAsync());
        await page.FillAsync("#code", right);
        await page.ClickAsync("#code-submit");
        await VisibleAsync(page, "#security");
        Assert.Contains("aal2", await page.InnerTextAsync("#acr"), StringComparison.Ordinal);
        Assert.Equal("pwd, otp, mfa", await page.InnerTextAsync("#amr"));
        NoPageErrors();
    }

    [ChromiumFact]
    public async Task A_recovery_code_signs_in_once_and_never_again()
    {
        var user = await _fx.NewUserAsync();
        var totp = await _steps.EnrolTotpAsync(await _fx.Api.LoginAsync(user));
        var (page, _, _) = await OpenAsync();
        await SignInWithPasswordAsync(page, user);
        await VisibleAsync(page, "#second");
        await page.FillAsync("#recovery-code", totp.RecoveryCodes[0]);
        await page.ClickAsync("#recovery-submit");
        await VisibleAsync(page, "#security");
        Assert.Equal("pwd, otp, mfa", await page.InnerTextAsync("#amr"));
        Assert.Contains("9 unused", await page.InnerTextAsync("#codes-status"), StringComparison.Ordinal);

        await SignOutAsync(page);
        await SignInWithPasswordAsync(page, user);
        await VisibleAsync(page, "#second");
        await page.FillAsync("#recovery-code", totp.RecoveryCodes[0]);
        await page.ClickAsync("#recovery-submit");
        await MessageAsync(page, "not accepted");
        Assert.False(await page.Locator("#security").IsVisibleAsync());
        NoPageErrors();
    }

    [ChromiumFact]
    public async Task A_passkey_registered_on_the_page_signs_in_alone_steps_up_and_its_assertion_cannot_be_replayed()
    {
        var user = await _fx.NewUserAsync();
        var (page, _, _) = await OpenAsync();
        await SignInWithPasswordAsync(page, user);
        await VisibleAsync(page, "#security");
        await page.FillAsync("#passkey-name", "Test laptop");
        await page.ClickAsync("#passkey-add");
        await MessageAsync(page, "Passkey added");
        Assert.Contains("Test laptop", await page.InnerTextAsync("#passkey-list"), StringComparison.Ordinal);

        await SignOutAsync(page);
        await page.ClickAsync("#passkey-signin");
        await VisibleAsync(page, "#security");
        Assert.Contains(user.Username, await page.InnerTextAsync("#who"), StringComparison.Ordinal);
        Assert.Contains("aal2", await page.InnerTextAsync("#acr"), StringComparison.Ordinal);
        Assert.Equal("hwk, mfa", await page.InnerTextAsync("#amr"));

        // Step-up with the passkey: the same session, a new auth_time.
        var before = await page.GetAttributeAsync("#auth-time", "data-value");
        _fx.Clock.Skip(TimeSpan.FromSeconds(1)); // auth_time has a resolution of a second
        await page.ClickAsync("#reverify");
        await VisibleAsync(page, "#stepup");
        await page.ClickAsync("#stepup-passkey");
        await MessageAsync(page, "Verified");
        await page.WaitForFunctionAsync("v => document.getElementById('auth-time').dataset.value !== v", before);
        Assert.False(await page.Locator("#stepup").IsVisibleAsync());

        // A replayed assertion: the browser's authenticator answers once, the page's client posts it twice.
        var statuses = await page.EvaluateAsync<int[]>("""
            async () => {
              const start = await call('POST', '/auth/passkeys/login/options', { tenant: 'acme' });
              const credential = assertionJson(await navigator.credentials.get({ publicKey: requestOptions(start.data.options) }));
              const first = await call('POST', '/auth/passkeys/login', { ceremony_id: start.data.ceremony_id, credential });
              const again = await call('POST', '/auth/passkeys/login', { ceremony_id: start.data.ceremony_id, credential });
              return [first.status, again.status];
            }
            """);
        Assert.Equal([200, 401], statuses);
        NoPageErrors();
    }

    [ChromiumFact]
    public async Task A_passkey_without_user_verification_another_users_passkey_and_an_expired_ceremony_are_refused()
    {
        var owner = await _fx.NewUserAsync();
        var other = await _fx.NewUserAsync();
        var (page, cdp, authenticator) = await OpenAsync();
        await SignInWithPasswordAsync(page, owner);
        await VisibleAsync(page, "#security");
        await page.ClickAsync("#passkey-add");
        await MessageAsync(page, "Passkey added");
        await SignOutAsync(page);

        // User verification off on the authenticator: no sign-in.
        await cdp.SendAsync("WebAuthn.setUserVerified", new Dictionary<string, object> { ["authenticatorId"] = authenticator, ["isUserVerified"] = false });
        await page.ClickAsync("#passkey-signin");
        await page.WaitForFunctionAsync("""
            () => !document.getElementById('passkey-signin').disabled && !document.getElementById('message').hidden
              && !document.getElementById('message').classList.contains('ok')
            """);
        Assert.False(await page.Locator("#security").IsVisibleAsync());
        await cdp.SendAsync("WebAuthn.setUserVerified", new Dictionary<string, object> { ["authenticatorId"] = authenticator, ["isUserVerified"] = true });

        // Another user's passkey: the other user adds one of its own, then answers its step-up with the owner's.
        await SignInWithPasswordAsync(page, other);
        await VisibleAsync(page, "#security");
        await page.ClickAsync("#passkey-add");
        await MessageAsync(page, "Passkey added");
        var credentials = (await cdp.SendAsync("WebAuthn.getCredentials", new Dictionary<string, object> { ["authenticatorId"] = authenticator }))!.Value
            .Deserialize<VirtualCredentials>(JsonSerializerOptions.Web)!.Credentials;
        var ownerHandle = Convert.ToBase64String(owner.Id.ToByteArray());
        var ownersCredential = credentials.Single(c => c.UserHandle == ownerHandle).CredentialId;
        var foreign = await page.EvaluateAsync<JsonElement>("""
            async (id) => {
              const start = await api('POST', '/auth/step-up/options');
              const options = { ...start.data.options, allowCredentials: [{ type: 'public-key', id: id.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '') }] };
              const credential = assertionJson(await navigator.credentials.get({ publicKey: requestOptions(options) }));
              const r = await api('POST', '/auth/step-up', { ceremony_id: start.data.ceremony_id, credential });
              return { status: r.status, problem: r.problem };
            }
            """, ownersCredential);
        Assert.Equal(new PageAnswer(401, "invalid-mfa-code"), foreign.Deserialize<PageAnswer>(JsonSerializerOptions.Web));

        // An expired ceremony: answered after its life, it is refused.
        var expired = await page.EvaluateAsync<int>("""
            async (seconds) => {
              const start = await call('POST', '/auth/passkeys/login/options', { tenant: 'acme' });
              await new Promise((r) => setTimeout(r, (seconds + 1.5) * 1000));
              const credential = assertionJson(await navigator.credentials.get({ publicKey: requestOptions({ ...start.data.options, timeout: 30000 }) }));
              return (await call('POST', '/auth/passkeys/login', { ceremony_id: start.data.ceremony_id, credential })).status;
            }
            """, AccountBrowserFixture<TMode>.CeremonySeconds);
        Assert.Equal(401, expired);
        NoPageErrors();
    }

    [ChromiumFact]
    public async Task The_page_signs_in_with_cookie_only_and_no_session_id_reaches_its_scripts()
    {
        var user = await _fx.NewUserAsync();
        var (page, _, _) = await OpenAsync();
        var logins = new List<IResponse>();
        page.Response += (_, response) =>
        {
            if (response.Url.EndsWith("/auth/login", StringComparison.Ordinal)) lock (logins) logins.Add(response);
        };
        await SignInWithPasswordAsync(page, user);
        await VisibleAsync(page, "#security");
        IResponse[] responses;
        lock (logins) responses = [.. logins];
        var seen = new List<(int Status, string Body, string? Sent)>();
        foreach (var response in responses) seen.Add((response.Status, await response.TextAsync(), response.Request.PostData));
        Assert.Contains("\"cookie_only\":true", seen[0].Sent, StringComparison.Ordinal);
        if (TMode.CookieIsCredential)
        {
            // One request: the cookie alone carries the session; the answer names neither secret.
            var (status, body, _) = Assert.Single(seen);
            Assert.Equal(200, status);
            Assert.DoesNotContain("session_id", body, StringComparison.Ordinal);
            Assert.DoesNotContain("device_token", body, StringComparison.Ordinal);
        }
        else
        {
            // The JWT modes refuse cookie_only before the password is read; the page asks again without it and keeps the tokens in memory.
            Assert.Equal(2, seen.Count);
            Assert.Equal(400, seen[0].Status);
            Assert.Contains("not-supported-in-mode", seen[0].Body, StringComparison.Ordinal);
            Assert.Equal(200, seen[1].Status);
            Assert.DoesNotContain("cookie_only", seen[1].Sent, StringComparison.Ordinal);
            Assert.Contains("access_token", seen[1].Body, StringComparison.Ordinal);
        }
        // Signed in for real: the page reads the session's own view.
        await page.WaitForFunctionAsync("() => document.body.textContent.includes('aal1')");
        NoPageErrors();
    }
}

// Chromium's DevTools protocol (WebAuthn domain) and the page's own answers: not our contract, read leniently.
internal sealed record VirtualAuthenticator(string AuthenticatorId);

internal sealed record VirtualCredentials(VirtualCredential[] Credentials);

internal sealed record VirtualCredential(string CredentialId, string? UserHandle);

internal sealed record PageAnswer(int Status, string? Problem);
