using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>Talks to the app over HTTP exactly as a client would; cookies are only sent when a test says so.</summary>
public sealed class ApiClient
{
    private readonly Uri? _baseAddress;
    private HttpClient? _http;

    /// <param name="factory">The app.</param>
    /// <param name="baseAddress">Where the app listens when it runs on a real Kestrel port (default: the in-memory server).</param>
    public ApiClient(WebApplicationFactory<Program> factory, Uri? baseAddress = null)
    {
        Factory = factory;
        _baseAddress = baseAddress;
    }

    public WebApplicationFactory<Program> Factory { get; }

    /// <summary>True once a request went through this client, so its app started (and did not fail to).</summary>
    public bool Started => _http is not null || _management is not null;

    // Created on first use, which is when the app starts.
    // The factory's base address: a Kestrel-hosted factory points it at its real port.
    public HttpClient Http => _http ??= Factory.CreateClient(new WebApplicationFactoryClientOptions
        { BaseAddress = _baseAddress ?? Factory.ClientOptions.BaseAddress, HandleCookies = false, AllowAutoRedirect = false });

    private HttpClient? _management;

    /// <summary>
    /// Requests that arrive on the management listener (a port of <c>Management:Urls</c>), as a local Prometheus sends
    /// them: the in-memory server has no socket, so the connection's local port is set as Kestrel would set it.
    /// </summary>
    public HttpClient Management => _management ??= ManagementClient(Factory);

    public static HttpClient ManagementClient(WebApplicationFactory<Program> factory)
    {
        var port = factory.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ManagementOptions>>().Value.Ports().FirstOrDefault();
        return new HttpClient(factory.Server.CreateHandler(c => c.Connection.LocalPort = port))
        {
            BaseAddress = new Uri($"http://127.0.0.1:{(port == 0 ? 80 : port)}/"),
        };
    }

    public Task<HttpResponseMessage> LoginRawAsync(object body) => Http.PostAsJsonAsync("/auth/login", body);

    /// <summary>A login from a given client address (through the trusted-proxy header).</summary>
    public Task<HttpResponseMessage> LoginFromAsync(string address, object body) =>
        SendAsync(HttpMethod.Post, "/auth/login", body: body, configure: r => r.Headers.Add("X-Forwarded-For", address));

    public Task<Login> LoginAsync(TestUser user, string device = "web") => LoginAsync(user.Tenant, user.Username, user.Password, device);

    public async Task<Login> LoginAsync(string tenant, string username, string password, string device = "web")
    {
        var response = await LoginRawAsync(new { tenant, username, password, device_type = device });
        return await ReadLoginAsync(response);
    }

    public static async Task<Login> ReadLoginAsync(HttpResponseMessage response)
    {
        var tokens = await response.ReadAsync<TokenResponse>();
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        var bearer = tokens.SessionId ?? tokens.AccessToken;
        Assert.True(bearer is not null, $"login: neither session_id nor access_token: {body}");
        string? cookie = null;
        if (response.Headers.TryGetValues("Set-Cookie", out var cookies))
            cookie = cookies.Select(c => c.Split(';')[0]).FirstOrDefault(c => c.StartsWith("__Host-sid=", StringComparison.Ordinal));
        return new Login(bearer!, tokens.RefreshToken, cookie, body);
    }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, Login? caller = null, object? body = null,
        Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (caller is not null) request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + caller.Bearer);
        if (body is not null) request.Content = JsonContent.Create(body);
        configure?.Invoke(request);
        return await Http.SendAsync(request);
    }

    public Task<HttpResponseMessage> GetAsync(string url, Login? caller = null) => SendAsync(HttpMethod.Get, url, caller);

    /// <summary>GET /auth/me as the test's own record of the contract: a member added, renamed or dropped fails here.</summary>
    public async Task<Me> MeAsync(Login caller) => await (await GetAsync("/auth/me", caller)).ReadAsync<Me>();

    /// <summary>GET <paramref name="url"/>, expecting 200, read strictly into the test's record of its shape.</summary>
    public async Task<T> GetAsync<T>(string url, Login? caller) => await (await GetAsync(url, caller)).ReadAsync<T>();

    public async Task<JsonElement> GetJsonAsync(string url, Login? caller)
    {
        var response = await GetAsync(url, caller);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async Task<Login> RefreshAsync(Login login)
    {
        var response = await Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
        return await ReadLoginAsync(response);
    }
}
