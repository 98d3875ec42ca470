using System.Runtime.InteropServices;
using Microsoft.Extensions.Options;

namespace SessionGate.Auth;

/// <summary>Where a hash waits: known devices and signed-in callers first (fair by device or user), others fair by network.</summary>
public readonly record struct HashingLane(bool Priority, string[] Path)
{
    public static HashingLane KnownDevice(Guid device) => new(true, ["d:" + device.ToString("N")]);

    public static HashingLane SignedIn(Guid user) => new(true, ["u:" + user.ToString("N")]);

    public static HashingLane NewDevice(ClientNetwork network) => new(false, network.FairPath);
}

/// <summary>
/// Runs password hashes (tens of milliseconds of CPU each) on dedicated threads, never on the request thread pool, at
/// most <see cref="PasswordHashingOptions.MaxConcurrency"/> at a time, with a CPU weight below requests' (a niceness,
/// never idle priority, so neither a login flood nor a request flood can take all of the CPU from the other).
/// <para>
/// Waiting hashes are served fairly: known devices and signed-in callers first, then new devices round robin across
/// networks (<see cref="ClientNetwork.FairPath"/>), so one network's backlog cannot push another's login past its
/// deadline. <see cref="PasswordHashingOptions.ReservedForKnownDevices"/> workers run at the requests' weight and,
/// while the service is under a guessing attack (<see cref="ReserveForKnownDevices"/>), serve only known devices and
/// signed-in callers; the others run at <see cref="PasswordHashingOptions.Niceness"/>, so a flood of new devices
/// hashes at a lower weight and on fewer cores than requests. A hash that waits longer
/// than <see cref="PasswordHashingOptions.MaxWait"/>, or is pushed out of a full queue, ends in
/// <see cref="PasswordHashingBusyException"/> (503, counted against no one).
/// </para>
/// </summary>
public sealed partial class PasswordHashing : IDisposable
{
    private sealed class Work(Func<object> run, bool priority)
    {
        public readonly Func<object> Run = run;
        public readonly bool Priority = priority;
        public readonly TaskCompletionSource<object> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public FairQueue<Work>.Handle? Handle;
    }

    private readonly object _gate = new();
    private readonly FairQueue<Work> _priority = new();
    private readonly FairQueue<Work> _newDevices = new();
    private readonly PasswordHashingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PasswordHashing> _logger;
    private readonly Thread[] _workers;
    private readonly int _reserved;
    private long _reservedUntil;
    private bool _stopping;
    private int _busyLogged;

    public PasswordHashing(IOptions<PasswordHashingOptions> options, TimeProvider time, ILogger<PasswordHashing> logger)
    {
        _options = options.Value;
        _time = time;
        _logger = logger;
        var workers = _options.MaxConcurrency > 0 ? _options.MaxConcurrency : Environment.ProcessorCount;
        _reserved = Math.Clamp(_options.ReservedForKnownDevices, 0, workers - 1);
        // The first workers are the reserved ones: they run at the requests' own weight (nice 0), since what they
        // serve under attack is known devices and signed-in callers; the others at PasswordHashing:Niceness.
        _workers = Enumerable.Range(0, workers)
            .Select(i => new Thread(() => RunWorker(reserved: i < _reserved)) { IsBackground = true, Name = $"password-hashing-{i}" }).ToArray();
        foreach (var worker in _workers) worker.Start();
    }

    /// <summary>Hashes waiting for a worker (metrics).</summary>
    public int Queued
    {
        get
        {
            lock (_gate) return _priority.Count + _newDevices.Count;
        }
    }

    /// <summary>Workers that hash.</summary>
    public int Workers => _workers.Length;

    /// <summary>Whether new devices are held to the workers not reserved for known devices.</summary>
    public bool Reserving => _time.GetTimestamp() < Interlocked.Read(ref _reservedUntil);

    /// <summary>The service is under a guessing attack: keep workers for known devices for <paramref name="duration"/>.</summary>
    public void ReserveForKnownDevices(TimeSpan duration)
    {
        var until = _time.GetTimestamp() + (long)(duration.TotalSeconds * _time.TimestampFrequency);
        if (Interlocked.Exchange(ref _reservedUntil, until) < _time.GetTimestamp()) LogReserving(_logger, _reserved);
    }

    public async Task<T> RunAsync<T>(HashingLane lane, Func<T> work, CancellationToken ct) where T : notnull
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(_options.MaxWait);
        var item = new Work(() => work(), lane.Priority);
        Work? pushedOut = null;
        lock (_gate)
        {
            var queue = lane.Priority ? _priority : _newDevices;
            if (_priority.Count + _newDevices.Count >= Math.Max(1, _options.MaxQueue))
            {
                // Full: a known device makes room among new devices first; anyone makes room only in a heavier branch.
                var evicted = lane.Priority && _newDevices.TryEvictHeaviest(out pushedOut);
                if (!evicted && !queue.TryEvictForNewcomer(lane.Path, out pushedOut)) throw Busy();
            }
            item.Handle = queue.Enqueue(lane.Path, item);
            Monitor.PulseAll(_gate);
        }
        pushedOut?.Done.TrySetException(Busy());
        try
        {
            return (T)await item.Done.Task.WaitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            lock (_gate) (item.Priority ? _priority : _newDevices).Remove(item.Handle!);
            if (ct.IsCancellationRequested) throw;
            throw Busy();
        }
    }

    private PasswordHashingBusyException Busy()
    {
        if (Interlocked.Exchange(ref _busyLogged, 1) == 0) LogBusy(_logger, _workers.Length, _options.MaxQueue);
        return new PasswordHashingBusyException();
    }

    // A reserved worker serves new devices only while the service is not under attack.
    private Work? Take(bool reserved)
    {
        lock (_gate)
        {
            while (!_stopping)
            {
                if (_priority.TryDequeue(out var known)) return known;
                if ((!reserved || !Reserving) && _newDevices.TryDequeue(out var item)) return item;
                // Woken by new work; the timeout notices a reservation that ran out.
                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(500));
            }
            return null;
        }
    }

    private void RunWorker(bool reserved)
    {
        LowerPriority(reserved ? 0 : _options.Niceness);
        while (Take(reserved) is { } item)
        {
            try
            {
                item.Done.TrySetResult(item.Run());
            }
            catch (Exception e)
            {
                item.Done.TrySetException(e);
            }
            lock (_gate)
            {
                if (_priority.Count + _newDevices.Count == 0) Interlocked.Exchange(ref _busyLogged, 0);
            }
        }
    }

    // Linux: a niceness for this thread only (a thread is a task to the scheduler), which is a CPU weight against the
    // request threads at nice 0; raising one's own niceness needs no privilege. Elsewhere the .NET priority.
    private static void LowerPriority(int niceness)
    {
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                if (niceness > 0) Thread.CurrentThread.Priority = ThreadPriority.BelowNormal;
                return;
            }
            _ = SetPriority(0, GetThreadId(), niceness);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            if (niceness > 0) Thread.CurrentThread.Priority = ThreadPriority.BelowNormal;
        }
    }

    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();

    public void Dispose()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Password hashing is saturated ({Workers} workers, {Queue} waiting at most); logins that cannot wait are refused with 503")]
    private static partial void LogBusy(ILogger logger, int workers, int queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "New devices' failed logins are above LoginLimits:UnderAttackFailuresPerMinute: {Reserved} hashing worker(s) kept for known devices")]
    private static partial void LogReserving(ILogger logger, int reserved);
}
