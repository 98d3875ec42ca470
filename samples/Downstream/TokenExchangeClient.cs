using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace SessionGate.Downstream;

/// <summary>
/// Calls SessionGate's <c>POST /oauth/token</c> (RFC 8693) to swap the internal JWT this service received for one
/// addressed to another service, as the same user with <c>act</c> naming this service. One exchange per outgoing
/// call: the new token is as short-lived as the one it came from, and a per-request token may be used once.
/// </summary>
public sealed class TokenExchangeClient(HttpClient http, string clientId, string clientSecret)
{
    public sealed class ExchangeFailedException(int status, string error) : Exception($"Token exchange refused: {status} {error}")
    {
        public int Status => status;
        public string Error => error;
    }

    public async Task<string> ExchangeAsync(string subjectToken, string audience, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "oauth/token")
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "urn:ietf:params:oauth:grant-type:token-exchange",
                ["subject_token"] = subjectToken,
                ["subject_token_type"] = "urn:ietf:params:oauth:token-type:jwt",
                ["audience"] = audience,
            }),
        };
        // client_secret_basic (RFC 6749 §2.3.1): each part form-encoded, then Base64.
        var basic = Uri.EscapeDataString(clientId) + ":" + Uri.EscapeDataString(clientSecret);
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(basic)));
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode) throw new ExchangeFailedException((int)response.StatusCode, ErrorOf(text));
        using var body = JsonDocument.Parse(text);
        return body.RootElement.GetProperty("access_token").GetString()!;
    }

    private static string ErrorOf(string text)
    {
        try
        {
            using var body = JsonDocument.Parse(text);
            return body.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString()! : "";
        }
        catch (JsonException)
        {
            return "";
        }
    }
}
