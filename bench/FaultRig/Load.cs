using System.Collections.Concurrent;

namespace SessionGate.Bench.FaultRig;

/// <summary>One load request: when it was sent, how long it took, where, for which session, and what came back.</summary>
public sealed record Rec(double SentMs, double Ms, int Instance, int Session, int Status, bool Proper503)
{
    public double DoneMs => SentMs + Ms;
}

/// <summary>
/// A steady, bounded load: <c>rate</c> authenticated GET /api/profile per second, round robin over the sessions, each
/// session alternating between the instances. Requests are sent on schedule whether or not earlier ones answered
/// (at most <see cref="MaxInFlight"/> outstanding; beyond that a tick is skipped and counted), so a slow outage shows
/// as latency and timeouts, not as a quieter load.
/// </summary>
public sealed class LoadGenerator(IReadOnlyList<Api> instances, IReadOnlyList<Credential> sessions, double rate)
{
    private const int MaxInFlight = 200;
    private readonly ConcurrentQueue<Rec> _records = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _inFlight;

    public long Skipped { get; private set; }

    public IReadOnlyList<Credential> Sessions => sessions;

    public void Start() => _loop = Task.Run(LoopAsync);

    public async Task StopAsync()
    {
        _stop.Cancel();
        if (_loop is not null) await _loop;
        var deadline = Rig.Now + 15_000;
        while (Volatile.Read(ref _inFlight) > 0 && Rig.Now < deadline) await Task.Delay(50);
    }

    /// <summary>Records sent in [from, to), in order of sending.</summary>
    public List<Rec> Between(double from, double to) => _records.Where(r => r.SentMs >= from && r.SentMs < to).OrderBy(r => r.SentMs).ToList();

    /// <summary>Completion time of the last non-200 answer to a request sent at or after <paramref name="from"/>; null if none.</summary>
    public double? LastFailureDone(double from) =>
        _records.Where(r => r.SentMs >= from && r.Status != 200).Select(r => (double?)r.DoneMs).DefaultIfEmpty(null).Max();

    private async Task LoopAsync()
    {
        var interval = 1000.0 / rate;
        var next = Rig.Now;
        long i = 0;
        while (!_stop.IsCancellationRequested)
        {
            next += interval;
            var wait = next - Rig.Now;
            if (wait > 0)
            {
                try { await Task.Delay(TimeSpan.FromMilliseconds(wait), _stop.Token); }
                catch (OperationCanceledException) { break; }
            }
            if (Volatile.Read(ref _inFlight) >= MaxInFlight)
            {
                Skipped++;
                continue;
            }
            var session = (int)(i % sessions.Count);
            var instance = (int)(i / sessions.Count % instances.Count);
            i++;
            Interlocked.Increment(ref _inFlight);
            _ = OneAsync(instance, session);
        }
    }

    private async Task OneAsync(int instance, int session)
    {
        var sent = Rig.Now;
        try
        {
            var reply = await instances[instance].ProfileAsync(sessions[session]);
            _records.Enqueue(new Rec(sent, reply.Ms, instance, session, reply.Status, reply.Status != 503 || reply.IsProper503));
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
