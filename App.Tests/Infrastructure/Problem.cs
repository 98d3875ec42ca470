using System.Net;
using System.Text.Json;
using SessionGate.Infrastructure;

namespace SessionGate.Tests.Infrastructure;

/// <summary>An RFC 9457 problem as SessionGate writes it: the standard members and the extensions it may add.</summary>
public sealed record ProblemDocument(
    string Type, string Title, int Status, string? Detail, string? Instance, string? TraceId,
    string? Reason, string? Field, string[]? RequiredPermissions, Dictionary<string, string>? Checks,
    string? MfaToken = null, string[]? Methods = null, int? ExpiresIn = null, string? AcrValues = null, long? MaxAge = null);

public static class Problem
{
    /// <summary>
    /// Asserts the whole problem document: status and content type, the stable type with the catalog's title for it,
    /// the reason when one is expected, no member beyond those SessionGate defines, and nothing
    /// internal (no stack trace, exception name or SQL).
    /// </summary>
    public static async Task<ProblemDocument> AssertAsync(HttpResponseMessage response, HttpStatusCode status, string type, string? reason = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status} {type}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        ProblemDocument problem;
        try
        {
            problem = JsonSerializer.Deserialize<ProblemDocument>(body, Contract.Strict)!;
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"not a SessionGate problem document ({e.Message}): {body}");
        }
        Assert.Equal(Problems.TypeUri(type), problem.Type);
        Assert.Equal(Problems.TitleOf(type), problem.Title);
        Assert.Equal((int)status, problem.Status);
        if (reason is not null) Assert.Equal(reason, problem.Reason);
        Assert.True(problem.TraceId is null || problem.TraceId.Length > 0, "trace_id, when present, is not empty");
        if (status == HttpStatusCode.ServiceUnavailable && type == Problems.ServiceUnavailable)
            Assert.True(response.Headers.RetryAfter is not null, $"a 503 says when to retry: {body}");
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
        Assert.DoesNotContain(".cs:line", body, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", body, StringComparison.Ordinal);
        Assert.DoesNotContain("SELECT", body, StringComparison.Ordinal);
        return problem;
    }
}
