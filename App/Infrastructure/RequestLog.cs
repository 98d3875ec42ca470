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
    private const string NoteKey = "SessionGate.RequestLog.Note";

    /// <summary>
    /// Why the request was refused (a credential the scheme turned down, say), added to its one line: a refused
    /// request writes that line and nothing else (the framework's own authentication lines are turned down in
    /// configuration, <c>Serilog:MinimumLevel:Override</c>).
    /// </summary>
    public static void Note(HttpContext http, string note) => http.Items[NoteKey] = note;

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
        if (!logger.IsEnabled(level)) return false;
        var elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        // Only a refusal carries its note: an anonymous route that ignored a stale credential answered as if none came.
        if (status >= 400 && http.Items.TryGetValue(NoteKey, out var note) && note is string why)
            LogRefused(logger, level, http.Request.Method, http.Request.Path.Value ?? "/", status, elapsed, why);
        else
            LogRequest(logger, level, http.Request.Method, http.Request.Path.Value ?? "/", status, elapsed);
        return false;
    }

    // The path only: a query string may carry anything.
    [LoggerMessage(Message = "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms")]
    private static partial void LogRequest(ILogger logger, LogLevel level, string requestMethod, string requestPath, int statusCode, double elapsed);

    [LoggerMessage(Message = "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms: {Refusal}")]
    private static partial void LogRefused(ILogger logger, LogLevel level, string requestMethod, string requestPath, int statusCode, double elapsed, string refusal);
}
