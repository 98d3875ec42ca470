using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace SessionGate.Bench.FaultRig;

/// <summary>What login hands out: <c>session_id</c> (Opaque) or <c>access_token</c> + <c>refresh_token</c> (JWT modes).</summary>
public sealed class Credential(string bearer, string? refresh, string label)
{
    public string Bearer { get; set; } = bearer;
    public string? Refresh { get; set; } = refresh;
    public string Label { get; } = label;
    public Guid UserId { get; set; }
    public Guid SessionId { get; set; }
}

/// <summary>One HTTP answer; status 0 means no answer (connection refused, reset or timed out).</summary>
public sealed record Reply(int Status, JsonNode? Body, string Text, string? ContentType, string? RetryAfter, double Ms)
{
    public bool Ok => Status is >= 200 and < 300;

    /// <summary>The outage answer the app promises: 503 problem+json, type ending in service-unavailable, Retry-After.</summary>
    public bool IsProper503 =>
        Status == 503
        && ContentType?.StartsWith("application/problem+json", StringComparison.OrdinalIgnoreCase) == true
        && (Body?["type"]?.GetValue<string>() ?? "").EndsWith("service-unavailable", StringComparison.Ordinal)
        && !string.IsNullOrEmpty(RetryAfter);

    public string Short => Status == 0 ? $"no answer ({Text})" : $"HTTP {Status}: {(Text.Length > 200 ? Text[..200] : Text)}";
}

/// <summary>One SessionGate instance over HTTP; nothing else is known about it.</summary>
public sealed class Api(HttpClient http, string name, Uri baseUri, string tenant)
{
    public string Name { get; } = name;
    public Uri BaseUri { get; } = baseUri;

    public static HttpClient NewClient() => new(new SocketsHttpHandler
    {
        UseProxy = false,
        UseCookies = false,
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(3),
    })
    { Timeout = Timeout.InfiniteTimeSpan };

    public async Task<Reply> SendAsync(HttpMethod method, string path, string? bearer = null, object? body = null, double timeoutSeconds = 10,
        bool readBody = true)
    {
        var started = Rig.Now;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            using var request = new HttpRequestMessage(method, new Uri(BaseUri, path.TrimStart('/')));
            if (bearer is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            if (body is not null) request.Content = JsonContent.Create(body);
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            var status = (int)response.StatusCode;
            var contentType = response.Content.Headers.ContentType?.ToString();
            var retryAfter = response.Headers.RetryAfter?.ToString();
            var text = "";
            JsonNode? json = null;
            if (readBody || status >= 300)
            {
                text = await response.Content.ReadAsStringAsync(cts.Token);
                if (text.Length > 0 && contentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true)
                {
                    try { json = JsonNode.Parse(text); } catch (System.Text.Json.JsonException) { }
                }
            }
            else
            {
                // Drain so the connection goes back to the pool.
                await response.Content.CopyToAsync(Stream.Null, cts.Token);
            }
            return new Reply(status, json, text, contentType, retryAfter, Rig.Now - started);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
        {
            return new Reply(0, null, e is OperationCanceledException ? "timeout" : e.GetType().Name, null, null, Rig.Now - started);
        }
    }

    /// <summary>Retries of a setup call that met 503 or no answer, 500 ms apart (a minute).</summary>
    private const int BusyRetries = 120;

    public Task<Reply> LoginRawAsync(string username, string password, string? inTenant = null, double timeoutSeconds = 10) =>
        SendAsync(HttpMethod.Post, "/auth/login", null, new { tenant = inTenant ?? tenant, username, password }, timeoutSeconds);

    public static Credential? CredentialOf(Reply reply, string label)
    {
        if (reply.Status != 200 || reply.Body is null) return null;
        var session = reply.Body["session_id"]?.GetValue<string>();
        var access = reply.Body["access_token"]?.GetValue<string>();
        var refresh = reply.Body["refresh_token"]?.GetValue<string>();
        return session is not null ? new Credential(session, null, label)
            : access is not null ? new Credential(access, refresh, label)
            : null;
    }

    /// <summary>Logs in (retrying a busy or briefly unavailable instance) and learns the user and session ids from /auth/me.</summary>
    public async Task<Credential> LoginAsync(string username, string password, string label)
    {
        Reply reply = null!;
        // A busy hasher answers 503 "too many logins at once"; on two shared cores that can last a while.
        for (var attempt = 0; attempt < BusyRetries; attempt++)
        {
            // 30 s: the password hash runs on low-priority threads, slow while the shared cores are busy.
            reply = await LoginRawAsync(username, password, timeoutSeconds: 30);
            if (CredentialOf(reply, label) is { } credential)
            {
                await DescribeAsync(credential);
                return credential;
            }
            if (reply.Status is not (0 or 503)) break;
            await Task.Delay(500);
        }
        throw new RigException($"login of {tenant}/{username} on {Name} failed: {reply.Short}");
    }

    public async Task DescribeAsync(Credential credential)
    {
        for (var attempt = 0; ; attempt++)
        {
            var me = await SendAsync(HttpMethod.Get, "/auth/me", credential.Bearer);
            if (me.Status == 200 && me.Body is not null)
            {
                credential.UserId = Guid.Parse(me.Body["user_id"]!.GetValue<string>());
                credential.SessionId = Guid.Parse(me.Body["session"]!["id"]!.GetValue<string>());
                return;
            }
            if (attempt >= 20 || me.Status is not (0 or 503)) throw new RigException($"GET /auth/me for {credential.Label} on {Name} failed: {me.Short}");
            await Task.Delay(500);
        }
    }

    public Task<Reply> ProfileAsync(Credential credential, bool readBody = false) =>
        SendAsync(HttpMethod.Get, "/api/profile", credential.Bearer, readBody: readBody, timeoutSeconds: 10);

    public Task<Reply> RefreshAsync(string refreshToken) =>
        SendAsync(HttpMethod.Post, "/auth/refresh", null, new { refresh_token = refreshToken });

    /// <summary>Creates a user (201), or accepts that it exists (409).</summary>
    public async Task EnsureUserAsync(Credential admin, string username, string password)
    {
        for (var attempt = 0; ; attempt++)
        {
            var reply = await SendAsync(HttpMethod.Post, "/admin/users", admin.Bearer, new { username, password, roles = new[] { "user" } }, timeoutSeconds: 30);
            if (reply.Status is 201 or 409) return;
            if (attempt >= BusyRetries || reply.Status is not (0 or 503)) throw new RigException($"creating user {username} on {Name} failed: {reply.Short}");
            await Task.Delay(500);
        }
    }
}

public sealed class RigException(string message) : Exception(message);
