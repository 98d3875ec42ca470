using System.Collections.Concurrent;

namespace SessionGate.Auth;

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
    private const int Waiting = 0, Taken = 1, Gone = 2;

    private sealed class Work(Func<object> run, HashingLane lane)
    {
        public readonly Func<object> Run = run;
        public readonly HashingLane Lane = lane;
        public readonly TaskCompletionSource<object> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int State = Waiting;

        /// <summary>Moves a waiting item to <paramref name="to"/>; false when a worker or the caller got it first.</summary>
        public bool Leave(int to) => Interlocked.CompareExchange(ref State, to, Waiting) == Waiting;
    }

    private sealed class Worker(bool reserved)
    {
        public readonly bool Reserved = reserved;
        public readonly SemaphoreSlim Ready = new(0);
        public Work? Next;
        public bool Idle = true; // the dispatcher's view
        public double LastNewDeviceMs; // how long its last new device's hash took (read by the dispatcher)
    }

    // Under attack, new devices' hashing may take this many ms of hashing at once, then only its share of the time.
    private const double BudgetBurstMs = 100;

    // Requests hand work over without taking any lock a low-priority worker could hold (a worker preempted inside a
    // lock would stall request threads: priority inversion). One dispatcher thread, at the requests' priority, owns
    // the fair queues and gives each idle worker its next item.
    private readonly ConcurrentQueue<Work> _incoming = new();
    private readonly ConcurrentQueue<Worker> _finished = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly FairQueue<Work> _priority = new();
    private readonly FairQueue<Work> _newDevices = new();
    private readonly PasswordHashingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<PasswordHashing> _logger;
    private readonly Worker[] _workers;
    private readonly int _reserved;
    private long _reservedUntil;
    private double _budgetMs = BudgetBurstMs;
    private long _budgetAt;
    private int _queued;
    private volatile bool _stopping;
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
        _workers = Enumerable.Range(0, workers).Select(i => new Worker(i < _reserved)).ToArray();
        for (var i = 0; i < workers; i++)
        {
            var worker = _workers[i];
            new Thread(() => RunWorker(worker)) { IsBackground = true, Name = $"password-hashing-{i}" }.Start();
        }
        new Thread(Dispatch) { IsBackground = true, Name = "hash-dispatcher" }.Start();
    }

    /// <summary>Hashes waiting for a worker (metrics).</summary>
    public int Queued => Volatile.Read(ref _queued);

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
        var item = new Work(() => work(), lane);
        Interlocked.Increment(ref _queued);
        _incoming.Enqueue(item);
        _wake.Set();
        try
        {
            return (T)await item.Done.Task.WaitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            // Still waiting: it leaves the queue now (the dispatcher drops it when it comes across it).
            if (item.Leave(Gone)) Interlocked.Decrement(ref _queued);
            if (ct.IsCancellationRequested) throw;
            throw Busy();
        }
    }

    private PasswordHashingBusyException Busy()
    {
        if (Interlocked.Exchange(ref _busyLogged, 1) == 0) LogBusy(_logger, _workers.Length, _options.MaxQueue);
        return new PasswordHashingBusyException();
    }

    private void Dispatch()
    {
        _budgetAt = _time.GetTimestamp();
        while (!_stopping)
        {
            // Woken by new work or a finished hash; the timeout notices a reservation that ran out, and a budget that
            // refilled.
            _wake.WaitOne(TimeSpan.FromMilliseconds(_budgetMs < 0 ? Math.Clamp(-_budgetMs / Share, 5, 200) : 200));
            var now = _time.GetTimestamp();
            _budgetMs = Math.Min(BudgetBurstMs, _budgetMs + _time.GetElapsedTime(_budgetAt, now).TotalMilliseconds * Share);
            _budgetAt = now;
            while (_finished.TryDequeue(out var done))
            {
                done.Idle = true;
                if (Reserving) _budgetMs -= done.LastNewDeviceMs;
            }
            while (_incoming.TryDequeue(out var item)) Admit(item);
            foreach (var worker in _workers)
            {
                if (!worker.Idle || Next(worker) is not { } next) continue;
                worker.Idle = false;
                worker.Next = next;
                worker.Ready.Release();
            }
        }
    }

    private double Share => Math.Clamp(_options.UnderAttackNewDeviceShare, 1, 100) / 100.0;

    // Into its fair queue; when the queue is full, room is made by pushing out the newest wait of the busiest branch
    // (a known device makes room among new devices first), or the newcomer is the one refused.
    private void Admit(Work item)
    {
        if (Volatile.Read(ref item.State) != Waiting) return;
        var queue = item.Lane.Priority ? _priority : _newDevices;
        if (_priority.Count + _newDevices.Count >= Math.Max(1, _options.MaxQueue))
        {
            DropGone(_priority);
            DropGone(_newDevices);
        }
        while (_priority.Count + _newDevices.Count >= Math.Max(1, _options.MaxQueue))
        {
            var evicted = item.Lane.Priority && _newDevices.TryEvictHeaviest(out var pushedOut)
                || queue.TryEvictForNewcomer(item.Lane.Path, out pushedOut);
            if (!evicted)
            {
                Refuse(item);
                return;
            }
            Refuse(pushedOut!);
        }
        queue.Enqueue(item.Lane.Path, item);
    }

    private void Refuse(Work item)
    {
        if (!item.Leave(Gone)) return;
        Interlocked.Decrement(ref _queued);
        item.Done.TrySetException(Busy());
    }

    // Callers that gave up are taken out before anyone is pushed out for room.
    private static void DropGone(FairQueue<Work> queue)
    {
        var kept = new List<(string[] Path, Work Item)>();
        while (queue.TryDequeue(out var w))
            if (Volatile.Read(ref w.State) == Waiting) kept.Add((w.Lane.Path, w));
        foreach (var (path, w) in kept) queue.Enqueue(path, w);
    }

    // Known devices and signed-in callers first; a reserved worker serves new devices only while not under attack.
    private Work? Next(Worker worker)
    {
        while (_priority.TryDequeue(out var known))
            if (known.Leave(Taken)) return Take(known);
        if (Reserving && (worker.Reserved || (Share < 1 && _budgetMs <= 0))) return null;
        while (_newDevices.TryDequeue(out var item))
            if (item.Leave(Taken)) return Take(item);
        return null;
    }

    private Work Take(Work item)
    {
        Interlocked.Decrement(ref _queued);
        return item;
    }

    private void RunWorker(Worker worker)
    {
        HashingThreads.LowerPriority(worker.Reserved ? 0 : _options.Niceness);
        while (true)
        {
            worker.Ready.Wait();
            if (_stopping || worker.Next is not { } item) return;
            worker.Next = null;
            var started = HashingThreads.ThreadCpuMs();
            try
            {
                item.Done.TrySetResult(item.Run());
            }
            catch (Exception e)
            {
                item.Done.TrySetException(e);
            }
            worker.LastNewDeviceMs = item.Lane.Priority ? 0 : HashingThreads.ThreadCpuMs() - started;
            if (Volatile.Read(ref _queued) == 0) Interlocked.Exchange(ref _busyLogged, 0);
            _finished.Enqueue(worker);
            _wake.Set();
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _wake.Set();
        foreach (var worker in _workers) worker.Ready.Release();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Password hashing is saturated ({Workers} workers, {Queue} waiting at most); logins that cannot wait are refused with 503")]
    private static partial void LogBusy(ILogger logger, int workers, int queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "New devices' failed logins are above LoginLimits:UnderAttackFailuresPerMinute: {Reserved} hashing worker(s) kept for known devices")]
    private static partial void LogReserving(ILogger logger, int reserved);
}
