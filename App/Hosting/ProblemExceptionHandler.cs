using Microsoft.AspNetCore.Diagnostics;

namespace SessionGate.Hosting;

/// <summary>
/// Turns every exception into problem+json with a stable type and no internals: bad input is 400, an
/// unreachable Redis or PostgreSQL is 503, anything else a bare 500.
/// </summary>
public sealed partial class ProblemExceptionHandler(ILogger<ProblemExceptionHandler> logger, DependencyHealth health) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        // A unique index refused a duplicate (a username, role name or tenant slug): the one place that says 409.
        if (exception is Microsoft.EntityFrameworkCore.DbUpdateException update && update.IsUniqueViolation() && !context.RequestAborted.IsCancellationRequested)
        {
            await Problems.WriteAsync(context, StatusCodes.Status409Conflict, Problems.Conflict, DbErrors.ConflictDetail(update));
            return true;
        }
        // A dependency that is down is an outage, logged once by DependencyHealth, not a bug: 503 with Retry-After.
        var down = DependencyHealth.IsRedisFailure(exception) ? Dependency.Redis
            : DependencyHealth.IsPostgresFailure(exception) ? Dependency.Postgres : (Dependency?)null;
        if (down is { } dependency && !context.RequestAborted.IsCancellationRequested)
        {
            health.Failed(dependency, exception);
            context.Response.Headers.RetryAfter = DependencyHealth.RetryAfterSeconds;
            await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, Problems.ServiceUnavailable);
            return true;
        }
        if (exception is SessionGate.Auth.PasswordHashingBusyException && !context.RequestAborted.IsCancellationRequested)
        {
            context.Response.Headers.RetryAfter = DependencyHealth.RetryAfterSeconds;
            await Problems.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, Problems.ServiceUnavailable, "Too many logins at once; try again shortly.");
            return true;
        }
        var (status, name) = exception switch
        {
            BadHttpRequestException { StatusCode: 413 or 414 or 431 } bad => (bad.StatusCode, Problems.RequestTooLarge),
            BadHttpRequestException bad => (bad.StatusCode, Problems.Validation),
            JsonException => (400, Problems.Validation),
            TimeoutException => (503, Problems.ServiceUnavailable),
            OperationCanceledException when context.RequestAborted.IsCancellationRequested => (499, Problems.Validation),
            _ => (500, Problems.Internal),
        };
        if (status >= 500) LogUnhandled(logger, exception.GetType().Name, exception);
        if (status == 499) return true;
        var detail = status == 400 ? "The request body or parameters could not be read." : null;
        await Problems.WriteAsync(context, status, name, detail);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Request failed with {ExceptionType}")]
    private static partial void LogUnhandled(ILogger logger, string exceptionType, Exception exception);

    /// <summary>Gives every problem a stable type, including those the framework writes (404, 405, 415, proxy errors).</summary>
    public static void Customize(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        if (problem.Type is null || !problem.Type.StartsWith(Problems.TypeBase, StringComparison.Ordinal))
        {
            var name = problem.Status switch
            {
                400 => Problems.Validation,
                413 or 414 or 431 => Problems.RequestTooLarge,
                401 => Problems.Unauthenticated,
                403 => Problems.Forbidden,
                404 => Problems.NotFound,
                405 => Problems.MethodNotAllowed,
                415 => Problems.UnsupportedMediaType,
                429 => Problems.TooManyAttempts,
                502 => Problems.BadGateway,
                503 => Problems.ServiceUnavailable,
                504 => Problems.GatewayTimeout,
                _ => Problems.Internal,
            };
            problem.Type = Problems.TypeUri(name);
            problem.Title = Problems.TitleOf(name);
        }
        // Framework-written problems may carry exception text in Development; no internals leave the process.
        problem.Extensions.Remove("exception");
        problem.Extensions.Remove("errors");
    }
}
