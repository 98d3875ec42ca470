using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace SessionGate.Tests.Mfa;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that keeps pace with real time (so the app's background loops and timers, which
/// all run on <see cref="TimeProvider"/>, still tick) and that a test moves ahead with <see cref="FakeTimeProvider.Advance"/>
/// instead of sleeping. Give it to one fixture's app only: the rest of the suite keeps the real clock.
/// </summary>
public sealed class RunningClock : FakeTimeProvider, IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pace;

    public RunningClock() : base(DateTimeOffset.UtcNow)
    {
        _pace = Task.Run(async () =>
        {
            var last = Stopwatch.GetTimestamp();
            while (!_stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(10, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                var now = Stopwatch.GetTimestamp();
                Advance(Stopwatch.GetElapsedTime(last, now));
                last = now;
            }
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pace;
        _stop.Dispose();
    }
}
