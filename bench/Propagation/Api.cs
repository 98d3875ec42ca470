using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace SessionGate.Bench.Propagation;

/// <summary>What login hands out: <c>session_id</c> (Opaque) or <c>access_token</c> + <c>refresh_token</c> (JWT modes).</summary>
public sealed class Credential(string bearer, string? refresh)
{
    public string Bearer { get; set; } = bearer;
    public string? Refresh { get; set; } = refresh;
}

public sealed class TestUser(Guid id, string username, string password)
{
    public Guid Id { get; } = id;
    public string Username { get; } = username;
    public string Password { get; set; } = password;
}

public sealed record Reply(int Status, JsonNode? Body, string Text)
{
    public bool Ok => Status is >= 200 and < 300;
    public TimeSpan? RetryAfter { get; init; }

    public override string ToString() => $"HTTP {Status}: {(Text.Length > 300 ? Text[..300] : Text)}";
}

/// <summary>One SessionGate instance over HTTP; nothing else is known about it.</summary>
public sealed class Api(HttpClient http, Uri baseUri, string tenant)
{
    public Uri BaseUri { get; } = baseUri;

    public static HttpClient NewClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    })
    { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// One request; a 503 with Retry-After (the app's password-hashing queue is full while the setup creates users and
    /// logs them in) is retried for up to a minute, as a well-behaved client would.
    /// </summary>
    public async Task<Reply> SendAsync(HttpMethod method, string path, string? bearer = null, object? body = null, CancellationToken ct = default)
    {
        var giveUp = DateTime.UtcNow.AddMinutes(1);
        while (true)
        {
            var reply = await SendOnceAsync(method, path, bearer, body, ct);
            if (reply.Status != 503 || reply.RetryAfter is not { } wait || DateTime.UtcNow + wait > giveUp) return reply;
            await Task.Delay(wait, ct);
        }
    }

    private async Task<Reply> SendOnceAsync(HttpMethod method, string path, string? bearer, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseUri, path.TrimStart('/')));
        if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonNode? json = null;
        if (text.Length > 0 && response.Content.Headers.ContentType?.MediaType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true)
        {
            try { json = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
        }
        return new Reply((int)response.StatusCode, json, text) { RetryAfter = response.Headers.RetryAfter?.Delta };
    }

    /// <summary>Only the status, the body drained: the poll loop's request.</summary>
    public async Task<int> StatusAsync(string path, string bearer, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(BaseUri, path.TrimStart('/')));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return (int)response.StatusCode;
    }

    public async Task<Credential> LoginAsync(string username, string password, CancellationToken ct = default)
    {
        var reply = await SendAsync(HttpMethod.Post, "/auth/login", null, new { tenant, username, password }, ct);
        if (reply.Status != 200 || reply.Body is null) throw new BenchException($"login of {tenant}/{username} on {BaseUri} failed: {reply}");
        var session = reply.Body["session_id"]?.GetValue<string>();
        var access = reply.Body["access_token"]?.GetValue<string>();
        var refresh = reply.Body["refresh_token"]?.GetValue<string>();
        return session is not null ? new Credential(session, null)
            : access is not null ? new Credential(access, refresh)
            : throw new BenchException($"login of {tenant}/{username} returned neither session_id nor access_token: {reply}");
    }

    /// <summary>JWT modes: a new access token for the same session.</summary>
    public async Task<bool> RefreshAsync(Credential credential, CancellationToken ct = default)
    {
        if (credential.Refresh is null) return false;
        var reply = await SendAsync(HttpMethod.Post, "/auth/refresh", null, new { refresh_token = credential.Refresh }, ct);
        var access = reply.Body?["access_token"]?.GetValue<string>();
        var refresh = reply.Body?["refresh_token"]?.GetValue<string>();
        if (reply.Status != 200 || access is null) return false;
        credential.Bearer = access;
        credential.Refresh = refresh;
        return true;
    }
}

public sealed class BenchException(string message) : Exception(message);
