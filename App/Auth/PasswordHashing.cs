using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace SessionGate.Auth;

/// <summary>
/// Runs PBKDF2 (tens of milliseconds of CPU each) on dedicated background threads at the lowest scheduling priority,
/// never on the request thread pool, and at most <see cref="PasswordHashingOptions.MaxConcurrency"/> at a time. A
/// flood of logins then queues here and slows only logins: authenticated requests keep the CPU they need.
/// </summary>
public sealed partial class PasswordHashing : IDisposable
{
    private sealed record Work(Func<object> Run, TaskCompletionSource<object> Done, CancellationToken Abandoned);

    private readonly Channel<Work> _queue;
    private readonly PasswordHashingOptions _options;
    private readonly ILogger<PasswordHashing> _logger;
    private readonly Thread[] _workers;
    private int _busyLogged;

    public PasswordHashing(IOptions<PasswordHashingOptions> options, ILogger<PasswordHashing> logger)
    {
        _options = options.Value;
        _logger = logger;
        _queue = Channel.CreateBounded<Work>(new BoundedChannelOptions(Math.Max(1, _options.MaxQueue)) { FullMode = BoundedChannelFullMode.Wait });
        var workers = _options.MaxConcurrency > 0 ? _options.MaxConcurrency : Environment.ProcessorCount;
        _workers = Enumerable.Range(0, workers).Select(i => new Thread(() => RunWorker(_options.IdleScheduling, _options.Niceness)) { IsBackground = true, Name = $"password-hashing-{i}" }).ToArray();
        foreach (var worker in _workers) worker.Start();
    }

    /// <summary>Hashes waiting for a worker (metrics).</summary>
    public int Queued => _queue.Reader.Count;

    public async Task<T> RunAsync<T>(Func<T> work, CancellationToken ct) where T : notnull
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(_options.MaxWait);
        var item = new Work(() => work(), new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously), wait.Token);
        if (!_queue.Writer.TryWrite(item)) throw Busy();
        try
        {
            return (T)await item.Done.Task.WaitAsync(wait.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Busy();
        }
    }

    private PasswordHashingBusyException Busy()
    {
        if (Interlocked.Exchange(ref _busyLogged, 1) == 0) LogBusy(_logger, _workers.Length, _options.MaxQueue);
        return new PasswordHashingBusyException();
    }

    private void RunWorker(bool idle, int niceness)
    {
        LowerPriority(idle, niceness);
        var reader = _queue.Reader;
        while (reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (reader.TryRead(out var item))
            {
                // A caller that gave up is not worth the CPU.
                if (item.Abandoned.IsCancellationRequested)
                {
                    item.Done.TrySetCanceled();
                    continue;
                }
                try
                {
                    item.Done.TrySetResult(item.Run());
                }
                catch (Exception e)
                {
                    item.Done.TrySetException(e);
                }
                if (reader.Count == 0) Interlocked.Exchange(ref _busyLogged, 0);
            }
        }
    }

    // Linux: SCHED_IDLE for this thread only (a thread is a task to the scheduler), so a hash runs only on CPU time
    // that no request wants; lowering one's own scheduling class needs no privilege. Where that is refused, or
    // PasswordHashing:IdleScheduling is off, the niceness; elsewhere the .NET priority is the best there is.
    private static void LowerPriority(bool idle, int niceness)
    {
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                Thread.CurrentThread.Priority = ThreadPriority.Lowest;
                return;
            }
            var param = new SchedParam();
            if (idle && SetScheduler(0, SchedIdle, ref param) == 0) return;
            _ = SetPriority(0, GetThreadId(), niceness);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            Thread.CurrentThread.Priority = ThreadPriority.Lowest;
        }
    }

    private const int SchedIdle = 5;

    [StructLayout(LayoutKind.Sequential)]
    private struct SchedParam
    {
        public int Priority;
    }

    [DllImport("libc", EntryPoint = "sched_setscheduler")]
    private static extern int SetScheduler(int pid, int policy, ref SchedParam param);

    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();

    public void Dispose() => _queue.Writer.TryComplete();

    [LoggerMessage(Level = LogLevel.Warning, Message = "Password hashing is saturated ({Workers} workers, {Queue} waiting); logins are refused with 503 until it drains")]
    private static partial void LogBusy(ILogger logger, int workers, int queue);
}
