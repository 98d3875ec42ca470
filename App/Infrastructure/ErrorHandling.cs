using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using Npgsql;
using StackExchange.Redis;

namespace SessionGate.Infrastructure;

/// <summary>
/// Turns every exception into problem+json with a stable type and no internals: bad input is 400, an
/// unreachable Redis or PostgreSQL is 503, anything else a bare 500.
/// </summary>
public sealed partial class ProblemExceptionHandler(ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        var (status, name) = exception switch
        {
            BadHttpRequestException bad => (bad.StatusCode, bad.StatusCode == 413 ? Problems.Validation : Problems.Validation),
            JsonException => (400, Problems.Validation),
            RedisException or RedisTimeoutException => (503, Problems.ServiceUnavailable),
            NpgsqlException { IsTransient: true } or TimeoutException => (503, Problems.ServiceUnavailable),
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
                400 or 413 or 431 => Problems.Validation,
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
