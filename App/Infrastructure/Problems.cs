using Microsoft.AspNetCore.Mvc;

namespace SessionGate.Infrastructure;

/// <summary>The stable error types of the API; each <c>type</c> URI ends in the error name.</summary>
public static class Problems
{
    /// <summary>
    /// A relative reference (RFC 9457 §3.1.1): it resolves against the API's own origin, where GET /errors/{name}
    /// serves a page saying what the error means and what to do.
    /// </summary>
    public const string TypeBase = "/errors/";

    public const string Validation = "validation";
    public const string RequestTooLarge = "request-too-large";
    public const string InvalidCredentials = "invalid-credentials";
    public const string AccountBanned = "account-banned";
    public const string SessionLimitReached = "session-limit-reached";
    public const string TooManyAttempts = "too-many-attempts";
    public const string InvalidRefreshToken = "invalid-refresh-token";
    public const string NotSupportedInMode = "not-supported-in-mode";
    public const string Unauthenticated = "unauthenticated";
    public const string SessionRevoked = "session-revoked";
    public const string CrossSiteRequest = "cross-site-request";
    public const string Forbidden = "forbidden";
    public const string NotFound = "not-found";
    public const string Conflict = "conflict";
    public const string WeakPassword = "weak-password";
    public const string ServiceUnavailable = "service-unavailable";
    public const string BadGateway = "bad-gateway";
    public const string GatewayTimeout = "gateway-timeout";
    public const string MethodNotAllowed = "method-not-allowed";
    public const string UnsupportedMediaType = "unsupported-media-type";
    public const string Internal = "internal-error";
    public const string NoRoute = "no-route";
    // Second factors and step-up (third release).
    public const string MfaRequired = "mfa-required";
    public const string InvalidMfaCode = "invalid-mfa-code";
    public const string InvalidMfaToken = "invalid-mfa-token";
    public const string StepUpRequired = "step-up-required";
    public const string MfaEnrollmentRequired = "mfa-enrollment-required";
    public const string TooManyRequests = "too-many-requests";

    public static string TypeUri(string name) => TypeBase + name;

    /// <summary>The title of a problem type, from <see cref="ErrorCatalog"/> (which GET /errors/{name} shows too).</summary>
    public static string TitleOf(string name) => ErrorCatalog.Find(name)?.Title ?? "Error";

    public static ProblemDetails Create(int status, string name, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        var problem = new ProblemDetails { Status = status, Type = TypeUri(name), Title = TitleOf(name), Detail = detail };
        if (extensions is not null)
        {
            foreach (var (k, v) in extensions) problem.Extensions[k] = v;
        }
        return problem;
    }

    public static ProblemHttpResult Result(int status, string name, string? detail = null, IDictionary<string, object?>? extensions = null) =>
        TypedResults.Problem(Create(status, name, detail, extensions));

    /// <summary>A 400 validation problem; <paramref name="field"/> names the refused field (as <c>field</c>) when there is one.</summary>
    public static ProblemHttpResult ValidationFailed(string detail, string? field = null) =>
        Result(StatusCodes.Status400BadRequest, Validation, detail, field is null ? null : new Dictionary<string, object?> { ["field"] = field });

    public static ProblemHttpResult NotFoundResult() => Result(StatusCodes.Status404NotFound, NotFound);

    /// <summary>Writes a problem body directly, for middleware and the authentication handler.</summary>
    public static async Task WriteAsync(HttpContext context, int status, string name, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        if (context.Response.HasStarted) return;
        var problem = Create(status, name, detail, extensions);
        context.Response.StatusCode = status;
        var writer = context.RequestServices.GetRequiredService<IProblemDetailsService>();
        await writer.WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }
}
