using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SessionGate.Tokens;

namespace SessionGate.Events;

/// <summary>An event as a receiver sees it.</summary>
public sealed record OutgoingEvent(Guid EventId, string Type, string Tenant, Guid UserId, Guid? SessionId, string? Reason, string? Detail, DateTimeOffset OccurredAt);

/// <summary>Where it goes, with the secrets that sign it (still protected).</summary>
public sealed record OutgoingEndpoint(Guid Id, string Url, string Format, string ProtectedSecret, string? PreviousProtectedSecret, DateTimeOffset? PreviousSecretUntil);

/// <summary>What one attempt got.</summary>
public sealed record AttemptOutcome(bool Succeeded, int? StatusCode, string? Error, string? Excerpt, TimeSpan Duration);

/// <summary>
/// Sends one event to one endpoint, in its format:
/// <list type="bullet">
/// <item><c>standard-webhooks</c>: body <c>{"type","timestamp","data"}</c>, headers <c>webhook-id</c>,
/// <c>webhook-timestamp</c> and <c>webhook-signature</c> (<c>v1,</c> and the base64 HMAC-SHA256 of
/// <c>id.timestamp.body</c>, by the <c>StandardWebhooks</c> library; during a rotation's grace, one signature per
/// secret, space-separated, as the specification allows);</item>
/// <item><c>caep</c>: a Security Event Token (RFC 8417, <c>typ: secevent+jwt</c>) signed with the current signing key
/// (verifiable from the JWKS), carrying CAEP <c>session-revoked</c>, pushed per RFC 8935
/// (<c>application/secevent+jwt</c>; the receiver answers 202) with the endpoint's secret as its bearer token.</item>
/// </list>
/// Redirects are not followed, every attempt has a timeout, the connection goes only to allowed addresses
/// (<see cref="ReceiverAddress"/>), and only a short excerpt of the answer is kept.
/// </summary>
public sealed class WebhookSender : IDisposable
{
    public const string StandardFormat = "standard-webhooks";
    public const string CaepFormat = "caep";
    public const string SessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
    public const string SetType = "secevent+jwt";
    private const int ExcerptLength = 256;

    private readonly HttpClient _http;
    private readonly WebhookSecrets _secrets;
    private readonly KeyRing _keys;
    private readonly JwtOptions _jwt;
    private readonly WebhookOptions _options;
    private readonly TimeProvider _time;
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };

    public WebhookSender(WebhookSecrets secrets, KeyRing keys, IOptions<JwtOptions> jwt, IOptions<WebhookOptions> options, TimeProvider time)
    {
        _secrets = secrets;
        _keys = keys;
        _jwt = jwt.Value;
        _options = options.Value;
        _time = time;
        var allowPrivate = _options.AllowPrivateNetworks;
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            // A proxy would connect for us, past the address check.
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = _options.AttemptTimeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            MaxResponseHeadersLength = 16,
            ConnectCallback = (context, ct) => ReceiverAddress.ConnectAsync(context, allowPrivate, ct),
        })
        { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("SessionGate-Webhooks", "1"));
    }

    public async Task<AttemptOutcome> SendAsync(OutgoingEndpoint endpoint, OutgoingEvent e, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.AttemptTimeout);
        try
        {
            if (!Uri.TryCreate(endpoint.Url, UriKind.Absolute, out var uri)
                || (uri.Scheme != Uri.UriSchemeHttps && !(_options.AllowPrivateNetworks && uri.Scheme == Uri.UriSchemeHttp)))
                return Failed(started, "url refused: https required");
            using var request = endpoint.Format == CaepFormat ? await CaepRequestAsync(uri, endpoint, e, timeout.Token) : StandardRequest(uri, endpoint, e);
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var excerpt = await ExcerptAsync(response, timeout.Token);
            var code = (int)response.StatusCode;
            if (response.IsSuccessStatusCode) return new AttemptOutcome(true, code, null, excerpt, Stopwatch.GetElapsedTime(started));
            var error = code is >= 300 and < 400 ? $"HTTP {code}: redirect not followed" : $"HTTP {code}";
            return new AttemptOutcome(false, code, error, excerpt, Stopwatch.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Failed(started, $"timeout after {_options.AttemptTimeout.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException x) when (Find<ReceiverRefusedException>(x) is not null)
        {
            return Failed(started, "address refused: private, loopback or link-local");
        }
        catch (HttpRequestException x)
        {
            return Failed(started, x.HttpRequestError switch
            {
                HttpRequestError.NameResolutionError => "name resolution failed",
                HttpRequestError.ConnectionError => "connection failed",
                HttpRequestError.SecureConnectionError => "TLS handshake failed",
                HttpRequestError.InvalidResponse or HttpRequestError.ResponseEnded => "invalid response",
                _ => "request failed",
            });
        }
        catch (SecurityTokenException)
        {
            return Failed(started, "no asymmetric signing key for a SET");
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return Failed(started, "the endpoint's secret cannot be unprotected (Data Protection key ring)");
        }
        catch (JsonException)
        {
            return Failed(started, "the event cannot be read");
        }
        catch (IOException)
        {
            return Failed(started, "connection failed");
        }
    }

    private static AttemptOutcome Failed(long started, string error) => new(false, null, error, null, Stopwatch.GetElapsedTime(started));

    private static T? Find<T>(Exception? e) where T : Exception
    {
        for (; e is not null; e = e.InnerException) if (e is T t) return t;
        return null;
    }

    private HttpRequestMessage StandardRequest(Uri uri, OutgoingEndpoint endpoint, OutgoingEvent e)
    {
        var body = StandardBody(e);
        var id = e.EventId.ToString();
        var now = _time.GetUtcNow();
        var timestamp = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var signatures = new List<string> { new StandardWebhooks.StandardWebhook(_secrets.Unprotect(endpoint.ProtectedSecret)).Sign(id, timestamp, body) };
        if (endpoint.PreviousProtectedSecret is { } previous && endpoint.PreviousSecretUntil > now)
            signatures.Add(new StandardWebhooks.StandardWebhook(_secrets.Unprotect(previous)).Sign(id, timestamp, body));
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("webhook-id", id);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", string.Join(' ', signatures));
        return request;
    }

    /// <summary>The Standard Webhooks body: <c>{"type","timestamp","data":{"tenant","user_id",…}}</c>.</summary>
    public static string StandardBody(OutgoingEvent e)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", e.Type);
            w.WriteString("timestamp", e.OccurredAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteStartObject("data");
            w.WriteString("tenant", e.Tenant);
            w.WriteString("user_id", e.UserId);
            if (e.SessionId is { } sid) w.WriteString("session_id", sid);
            if (e.Reason is not null) w.WriteString("reason", e.Reason);
            if (e.Detail is not null)
            {
                using var detail = JsonDocument.Parse(e.Detail);
                if (detail.RootElement.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in detail.RootElement.EnumerateObject()) p.WriteTo(w);
                }
            }
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private async Task<HttpRequestMessage> CaepRequestAsync(Uri uri, OutgoingEndpoint endpoint, OutgoingEvent e, CancellationToken ct)
    {
        var token = await CreateSetAsync(endpoint.Url, e, ct);
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = new StringContent(token, Encoding.ASCII) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/secevent+jwt");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _secrets.Unprotect(endpoint.ProtectedSecret));
        return request;
    }

    /// <summary>
    /// The CAEP <c>session-revoked</c> SET: <c>iss</c>, <c>iat</c>, <c>jti</c> (the event id), <c>aud</c> (the
    /// endpoint), a complex <c>sub_id</c> (user as <c>iss_sub</c>, session and tenant as <c>opaque</c>) and the event
    /// with its <c>event_timestamp</c>, <c>initiating_entity</c> and <c>reason_admin</c>. No <c>exp</c>: a SET is a
    /// statement of fact, not a credential (RFC 8417 §2.2; the Shared Signals profile forbids it).
    /// </summary>
    public async Task<string> CreateSetAsync(string audience, OutgoingEvent e, CancellationToken ct)
    {
        var set = await _keys.GetAsync(ct);
        if (set.Signing.Key is SymmetricSecurityKey) throw new SecurityTokenException("A SET must be verifiable from the JWKS.");
        var revoked = new Dictionary<string, object> { ["event_timestamp"] = e.OccurredAt.ToUnixTimeSeconds() };
        if (InitiatingEntity(e.Reason) is { } entity) revoked["initiating_entity"] = entity;
        if (e.Reason is not null) revoked["reason_admin"] = new Dictionary<string, object> { ["en"] = e.Reason };
        var subject = new Dictionary<string, object>
        {
            ["format"] = "complex",
            ["user"] = new Dictionary<string, object> { ["format"] = "iss_sub", ["iss"] = _jwt.Issuer, ["sub"] = e.UserId.ToString() },
            ["tenant"] = new Dictionary<string, object> { ["format"] = "opaque", ["id"] = e.Tenant },
        };
        if (e.SessionId is { } sid) subject["session"] = new Dictionary<string, object> { ["format"] = "opaque", ["id"] = sid.ToString() };
        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _jwt.Issuer,
            Audience = audience,
            IssuedAt = _time.GetUtcNow().UtcDateTime,
            TokenType = SetType,
            SigningCredentials = set.Signing,
            Claims = new Dictionary<string, object>
            {
                ["jti"] = e.EventId.ToString(),
                ["sub_id"] = subject,
                ["events"] = new Dictionary<string, object> { [SessionRevoked] = revoked },
            },
        });
    }

    // CAEP's initiating_entity: who (or what) ended the session.
    private static string? InitiatingEntity(string? reason) => reason switch
    {
        "logged-out" => "user",
        "kicked" or "banned" => "admin",
        "replaced" or "expired" => "policy",
        "refresh-reused" => "system",
        _ => null,
    };

    private static async Task<string?> ExcerptAsync(HttpResponseMessage response, CancellationToken ct)
    {
        var buffer = new byte[1024];
        var read = 0;
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        int n;
        while (read < buffer.Length && (n = await stream.ReadAsync(buffer.AsMemory(read), ct)) > 0) read += n;
        if (read == 0) return null;
        var text = new string(Encoding.UTF8.GetString(buffer, 0, read).Select(c => char.IsControl(c) ? ' ' : c).ToArray()).Trim();
        return text.Length <= ExcerptLength ? text : text[..ExcerptLength];
    }

    public void Dispose() => _http.Dispose();
}
