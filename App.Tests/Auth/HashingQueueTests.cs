using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SessionGate.Auth;

namespace SessionGate.Tests.Auth;

/// <summary>
/// The hashing workers' queue, on real threads: a backlog from one network cannot push another network's login past
/// its deadline, known devices go first, a full queue drops the busiest network's newest, and workers are kept for
/// known devices under attack. Mode-independent: no host.
/// </summary>
public sealed class HashingQueueTests : IDisposable
{
    private readonly List<PasswordHashing> _hashers = [];

    private PasswordHashing Hashing(int workers = 1, int queue = 128, int reserved = 1)
    {
        var hashing = new PasswordHashing(Options.Create(new PasswordHashingOptions
        {
            MaxConcurrency = workers, MaxQueue = queue, ReservedForKnownDevices = reserved, MaxWait = TimeSpan.FromSeconds(30), Niceness = 0,
        }), TimeProvider.System, NullLogger<PasswordHashing>.Instance);
        _hashers.Add(hashing);
        return hashing;
    }

    private static HashingLane From(string address) => HashingLane.NewDevice(ClientNetwork.Of(IPAddress.Parse(address)));

    // Occupies every worker until the returned gate opens.
    private static (ManualResetEventSlim Gate, Task[] Running) Block(PasswordHashing hashing, int workers, HashingLane lane)
    {
        var gate = new ManualResetEventSlim(false);
        var started = new CountdownEvent(workers);
        var running = Enumerable.Range(0, workers).Select(_ => hashing.RunAsync(lane, () =>
        {
            started.Signal();
            gate.Wait();
            return 0;
        }, CancellationToken.None)).ToArray<Task>();
        Assert.True(started.Wait(TimeSpan.FromSeconds(10)), "the workers never started");
        return (gate, running);
    }

    [Fact]
    public async Task A_login_from_another_network_is_served_before_a_networks_backlog()
    {
        var hashing = Hashing();
        var order = new ConcurrentQueue<string>();
        var (gate, running) = Block(hashing, 1, From("10.0.0.1"));
        var flood = Enumerable.Range(0, 40).Select(i => hashing.RunAsync(From($"10.{i}.{i}.{i + 1}"), () => { order.Enqueue("flood"); return 0; }, CancellationToken.None)).ToList();
        var user = hashing.RunAsync(From("192.0.2.10"), () => { order.Enqueue("user"); return 0; }, CancellationToken.None);
        Assert.Equal(41, hashing.Queued);
        gate.Set();
        await Task.WhenAll([.. running, .. flood, user]);
        // Round robin over /8s: the user's network gets every other turn, so it waits for one flood hash, not forty.
        Assert.InRange(order.ToList().IndexOf("user"), 0, 1);
    }

    [Fact]
    public async Task Known_devices_and_signed_in_callers_go_first()
    {
        var hashing = Hashing();
        var order = new ConcurrentQueue<string>();
        var (gate, running) = Block(hashing, 1, From("10.0.0.1"));
        var flood = Enumerable.Range(0, 10).Select(_ => hashing.RunAsync(From("192.0.2.20"), () => { order.Enqueue("new"); return 0; }, CancellationToken.None)).ToList();
        var known = hashing.RunAsync(HashingLane.KnownDevice(Guid.NewGuid()), () => { order.Enqueue("known"); return 0; }, CancellationToken.None);
        var admin = hashing.RunAsync(HashingLane.SignedIn(Guid.NewGuid()), () => { order.Enqueue("signed-in"); return 0; }, CancellationToken.None);
        gate.Set();
        await Task.WhenAll([.. running, .. flood, known, admin]);
        Assert.Equal(["known", "signed-in"], order.Take(2).Order());
    }

    [Fact]
    public async Task A_full_queue_drops_the_busiest_networks_newest_wait_not_a_newcomer_from_elsewhere()
    {
        var hashing = Hashing(queue: 4);
        var (gate, running) = Block(hashing, 1, From("10.0.0.1"));
        var flood = Enumerable.Range(0, 4).Select(_ => hashing.RunAsync(From("10.0.0.2"), () => 0, CancellationToken.None)).ToList();
        // The same client asks for more: it is the busiest, so it is the one refused.
        await Assert.ThrowsAsync<PasswordHashingBusyException>(() => hashing.RunAsync(From("10.0.0.2"), () => 0, CancellationToken.None));
        // Another network: room is made by pushing out the flood's newest wait.
        var user = hashing.RunAsync(From("192.0.2.30"), () => 1, CancellationToken.None);
        await Assert.ThrowsAsync<PasswordHashingBusyException>(() => flood[3]);
        gate.Set();
        Assert.Equal(1, await user);
        await Task.WhenAll([.. running, .. flood.Take(3)]);
    }

    [Fact]
    public async Task A_wait_past_its_deadline_is_refused_and_leaves_the_queue()
    {
        var hashing = Hashing();
        var (gate, running) = Block(hashing, 1, From("10.0.0.1"));
        using var deadline = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var ran = false;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hashing.RunAsync(From("192.0.2.40"), () => ran = true, deadline.Token));
        Assert.Equal(0, hashing.Queued);
        gate.Set();
        await Task.WhenAll(running);
        Assert.False(ran);
    }

    [Fact]
    public async Task Under_attack_new_devices_leave_the_reserved_worker_to_known_devices()
    {
        var hashing = Hashing(workers: 2, reserved: 1);
        hashing.ReserveForKnownDevices(TimeSpan.FromMinutes(1));
        Assert.True(hashing.Reserving);
        var running = 0;
        var most = 0;
        var gate = new ManualResetEventSlim(false);
        var flood = Enumerable.Range(0, 6).Select(i => hashing.RunAsync(From($"10.1.{i}.1"), () =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            gate.Wait();
            Interlocked.Decrement(ref running);
            return 0;
        }, CancellationToken.None)).ToList();
        // The spare worker serves a known device at once, though six new devices wait.
        var known = hashing.RunAsync(HashingLane.KnownDevice(Guid.NewGuid()), () => 7, CancellationToken.None);
        Assert.Equal(7, await known.WaitAsync(TimeSpan.FromSeconds(10)));
        gate.Set();
        await Task.WhenAll(flood);
        Assert.Equal(1, most);
    }

    [Fact]
    public async Task Under_attack_new_devices_hash_within_their_share_of_a_core()
    {
        var hashing = new PasswordHashing(Options.Create(new PasswordHashingOptions
        {
            MaxConcurrency = 3, ReservedForKnownDevices = 1, UnderAttackNewDeviceShare = 50, MaxWait = TimeSpan.FromSeconds(30), Niceness = 0,
        }), TimeProvider.System, NullLogger<PasswordHashing>.Instance);
        _hashers.Add(hashing);
        hashing.ReserveForKnownDevices(TimeSpan.FromMinutes(1));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => hashing.RunAsync(From($"10.2.{i}.1"), () => Spin(TimeSpan.FromMilliseconds(25)), CancellationToken.None)));
        // Two workers would do it in 100 ms; 200 ms of hashing CPU at half a core, less the 100 ms it may take at once,
        // takes at least 200 ms.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(180), $"eight 25 ms hashes took only {clock.Elapsed}");
    }

    // Burns this much of the thread's own CPU, like a hash (the share counts the thread's CPU, not its wall time: on a
    // busy machine a spin timed by the wall clock would use less CPU than it claims).
    private static int Spin(TimeSpan duration)
    {
        var start = HashingThreads.ThreadCpuMs();
        while (HashingThreads.ThreadCpuMs() - start < duration.TotalMilliseconds) Thread.SpinWait(100);
        return 0;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    [Fact]
    public void The_fair_queue_takes_turns_at_every_level()
    {
        var queue = new FairQueue<string>();
        foreach (var i in Enumerable.Range(0, 3)) queue.Enqueue(["a", "a1"], "a1-" + i);
        queue.Enqueue(["a", "a2"], "a2-0");
        queue.Enqueue(["b", "b1"], "b1-0");
        var served = new List<string>();
        while (queue.TryDequeue(out var item)) served.Add(item);
        Assert.Equal(["a1-0", "b1-0", "a2-0", "a1-1", "a1-2"], served);
        Assert.Equal(0, queue.Count);
    }

    public void Dispose()
    {
        foreach (var hashing in _hashers) hashing.Dispose();
    }
}
