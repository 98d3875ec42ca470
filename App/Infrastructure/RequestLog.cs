using System.Diagnostics;

namespace SessionGate.Infrastructure;

/// <summary>
/// One log line per request, with the status the client got: successes at Debug, client errors at Information, a
/// 503 (an outage, which <see cref="DependencyHealth"/> logs once) at Debug, other server errors at Error. Serilog's
/// own request-logging middleware was measured at about 10% of an anonymous request (it opens an async-local
/// diagnostic context for every request, logged or not); this one does nothing beyond a timestamp unless it logs.
/// </summary>
public sealed partial class RequestLog(RequestDelegate next, ILogger<RequestLog> logger)
{
    public async Task InvokeAsync(HttpContext http)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await next(http);
        }
        catch (Exception) when (Log(http, start, failed: true))
        {
            throw; // never reached: the filter logs and declines
        }
        Log(http, start, failed: false);
    }

    private bool Log(HttpContext http, long start, bool failed)
    {
        var status = failed ? StatusCodes.Status500InternalServerError : http.Response.StatusCode;
        var level = status switch
        {
            StatusCodes.Status503ServiceUnavailable => LogLevel.Debug,
            >= 500 => LogLevel.Error,
            >= 400 => LogLevel.Information,
            _ => LogLevel.Debug,
        };
        if (logger.IsEnabled(level))
            LogRequest(logger, level, http.Request.Method, http.Request.Path.Value ?? "/", status, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        return false;
    }

    // The path only: a query string may carry anything.
    [LoggerMessage(Message = "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms")]
    private static partial void LogRequest(ILogger logger, LogLevel level, string requestMethod, string requestPath, int statusCode, double elapsed);
}
