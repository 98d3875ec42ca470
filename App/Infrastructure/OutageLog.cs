namespace SessionGate.Infrastructure;

/// <summary>
/// How a background loop runs its rounds and reports them. An outage (a round that fails for a reason that goes away
/// by itself) is logged once when it starts and once when it ends, never once per round: a loop that ticks every
/// second would flood the log for the outage's whole length. Any other failure is a bug, logged every time with its
/// exception. Neither stops the loop: the next round tries again.
/// </summary>
/// <param name="logger">The loop's own logger, so its category names the loop.</param>
/// <param name="work">What the loop does, as the log says it: "Outbox relay", "Sliding writes".</param>
/// <param name="meanwhile">What holds while it fails, said after the exception type: "retrying".</param>
public sealed partial class OutageLog(ILogger logger, string work, string meanwhile)
{
    private int _failing;

    /// <summary>Runs one round. Failures at shutdown are expected and pass quietly.</summary>
    /// <param name="round">The round's work.</param>
    /// <param name="isOutage">Which exceptions are an outage rather than a bug.</param>
    /// <param name="stopping">The host's stopping token.</param>
    /// <param name="meanwhileNow">Overrides <c>meanwhile</c> with what holds now (a count, say), read when the outage starts.</param>
    public async Task RoundAsync(Func<Task> round, Func<Exception, bool> isOutage, CancellationToken stopping, Func<string>? meanwhileNow = null)
    {
        try
        {
            await round();
            if (Interlocked.Exchange(ref _failing, 0) == 1) LogRecovered(logger, work);
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            // The host is stopping: whatever the round was doing was cut short on purpose.
        }
        catch (Exception e) when (isOutage(e))
        {
            if (Interlocked.Exchange(ref _failing, 1) == 0) LogFailing(logger, work, e.GetType().Name, meanwhileNow?.Invoke() ?? meanwhile);
        }
        catch (Exception e)
        {
            LogRoundFailed(logger, work, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Work:l} failing ({ExceptionType}); {Meanwhile:l}")]
    private static partial void LogFailing(ILogger logger, string work, string exceptionType, string meanwhile);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Work:l} recovered")]
    private static partial void LogRecovered(ILogger logger, string work);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Work:l} round failed")]
    private static partial void LogRoundFailed(ILogger logger, string work, Exception exception);
}
