using System.Diagnostics;

namespace SessionGate.Bench.Propagation;

/// <summary>The outcome of one revocation.</summary>
public sealed record Sample(
    double? LatencyMs,            // null: B still accepted when the timeout ran out
    int AcceptedAfterBound,       // B answered 200 to requests sent later than the bound after A answered
    int Flaps,                    // B accepted again after having refused
    int Errors,                   // B answered something else than accepted/refused (5xx, 429, a broken connection)
    int Polls,
    double MeanPollMs,
    string? Invalid = null)       // the revocation could not be measured (why)
{
    public static Sample Skipped(string why) => new(null, 0, 0, 0, 0, 0, why);
}

/// <summary>
/// Polls B back to back on one connection, from before the revocation is sent until B refuses for good.
/// A refusal counts once it is followed by <c>confirm</c> more refusals with no acceptance in between. The
/// latency is 0 when B accepted no request sent after A answered (it refused at the first chance); otherwise it
/// is the time from A's answer to the sending of the first request of that run of refusals, so it is at most
/// one poll round trip later than the true moment, and never earlier than a request B accepted.
/// </summary>
public sealed class Poller(Api b, string path, string bearer, Func<int, bool> isRefused, TimeSpan bound, TimeSpan timeout, int confirm = 2)
{
    private readonly TaskCompletionSource _firstReply = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _revocationSent;   // Stopwatch ticks; 0 = not yet
    private long _revocationAnswered;
    private volatile bool _abort;

    /// <summary>Completes once B has answered one poll (so the loop really runs before the revocation).</summary>
    public Task FirstReply => _firstReply.Task;

    public void RevocationSent(long at) => Volatile.Write(ref _revocationSent, at);

    public void RevocationAnswered(long at) => Volatile.Write(ref _revocationAnswered, at);

    public void Abort() => _abort = true;

    public async Task<Sample> RunAsync()
    {
        var boundTicks = (long)(bound.TotalSeconds * Stopwatch.Frequency);
        var timeoutTicks = (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        int polls = 0, errors = 0, flaps = 0, acceptedAfterBound = 0, streak = 0;
        long firstRefusedSent = 0, lastAcceptedSent = 0, pollTicks = 0;
        while (!_abort)
        {
            var sent = Stopwatch.GetTimestamp();
            int status;
            try
            {
                status = await b.StatusAsync(path, bearer);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                status = -1;
            }
            var done = Stopwatch.GetTimestamp();
            polls++;
            pollTicks += done - sent;
            _firstReply.TrySetResult();
            var revocationSent = Volatile.Read(ref _revocationSent);
            var answered = Volatile.Read(ref _revocationAnswered);

            if (isRefused(status))
            {
                // Answered before the revocation even left: the credential failed for another reason.
                if (revocationSent == 0 || done < revocationSent)
                {
                    return Result(null, "B refused before the revocation was sent");
                }
                if (streak == 0) firstRefusedSent = sent;
                streak++;
            }
            else if (status == 200)
            {
                if (streak > 0) flaps++;
                streak = 0;
                lastAcceptedSent = sent;
                if (answered != 0 && sent - answered > boundTicks) acceptedAfterBound++;
            }
            else
            {
                errors++;
            }

            if (answered == 0) continue;
            if (streak > confirm)
            {
                var latency = lastAcceptedSent > answered ? (firstRefusedSent - answered) * 1000.0 / Stopwatch.Frequency : 0;
                return Result(latency, null);
            }
            if (sent - answered > timeoutTicks) return Result(null, null);
        }
        return Sample.Skipped("aborted");

        Sample Result(double? latency, string? invalid) =>
            new(latency, acceptedAfterBound, flaps, errors, polls, polls == 0 ? 0 : pollTicks * 1000.0 / Stopwatch.Frequency / polls, invalid);
    }
}

/// <summary>Nearest-rank percentiles; a revocation never refused within the timeout sorts above everything.</summary>
public static class Stats
{
    public static string Percentile(IReadOnlyList<Sample> samples, double p, TimeSpan timeout)
    {
        if (samples.Count == 0) return "–";
        var sorted = samples.Select(s => s.LatencyMs ?? double.PositiveInfinity).Order().ToArray();
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        var value = sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
        return double.IsPositiveInfinity(value) ? $">{timeout.TotalMilliseconds:0}" : Format(value);
    }

    public static string Format(double ms) => ms switch
    {
        0 => "0",
        < 10 => ms.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture),
        < 100 => ms.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture),
        _ => ms.ToString("0", System.Globalization.CultureInfo.InvariantCulture),
    };
}
