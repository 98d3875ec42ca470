using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// Reads a response into the test's own record of API.md's shape. The reading is strict: a member the record does
/// not name fails the test, so a member added, renamed or dropped shows here rather than in a client.
/// </summary>
public static class Contract
{
    public static readonly JsonSerializerOptions Strict = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Asserts the status, then reads the body as <typeparamref name="T"/>.</summary>
    public static async Task<T> ReadAsync<T>(this HttpResponseMessage response, HttpStatusCode status = HttpStatusCode.OK)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status,
            $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: expected {(int)status}, got {(int)response.StatusCode} {text}");
        try
        {
            return JsonSerializer.Deserialize<T>(text, Strict)!;
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"not a {typeof(T).Name} ({e.Message}): {text}");
        }
    }

    /// <summary>Reads a JSON value the test already holds (a member of a larger body) as <typeparamref name="T"/>.</summary>
    public static T As<T>(this JsonElement element) => element.Deserialize<T>(Strict)!;
}
