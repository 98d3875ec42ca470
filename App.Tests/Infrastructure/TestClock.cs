using System.Diagnostics;
using Microsoft.Extensions.Time.Testing;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// The app's <see cref="TimeProvider"/> in a fixture that moves time on: a <see cref="FakeTimeProvider"/> that follows
/// the wall clock (so the relay, the sliding writer and every other timer tick as they would) and that a test moves
/// ahead with <see cref="Skip"/> instead of sleeping. What reads real time outside the app's TimeProvider (Redis
/// TTLs, IdentityModel's token lifetime check) does not move with it.
/// </summary>
public sealed class TestClock : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _follow;

    public TestClock()
    {
        _follow = FollowAsync();
    }

    public FakeTimeProvider Time { get; } = new FollowingTime(DateTimeOffset.UtcNow);

    public DateTimeOffset Now => Time.GetUtcNow();

    /// <summary>Moves the app's time ahead at once: timers due in between fire.</summary>
    public void Skip(TimeSpan by) => Time.Advance(by);

    private async Task FollowAsync()
    {
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        var last = Stopwatch.GetTimestamp();
        try
        {
            while (await tick.WaitForNextTickAsync(_stop.Token))
            {
                var now = Stopwatch.GetTimestamp();
                ((FollowingTime)Time).Follow(Stopwatch.GetElapsedTime(last, now), now);
                last = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _follow;
        _stop.Dispose();
    }
}

/// <summary>An app whose <see cref="TimeProvider"/> is a <see cref="TestClock"/>; other fixtures keep real time.</summary>
public class ClockFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override bool UsesTestClock => true;

    public new TestClock Clock => base.Clock!;
}

/// <summary>
/// Between two steps of the follower, the time still moves with the wall clock: two reads never return the same
/// instant unless they are that close in real time too (the app tells apart rows by when they were written).
/// </summary>
internal sealed class FollowingTime(DateTimeOffset start) : FakeTimeProvider(start)
{
    private readonly Lock _gate = new();
    private long _followedAt = Stopwatch.GetTimestamp();

    public void Follow(TimeSpan by, long at)
    {
        lock (_gate)
        {
            Advance(by);
            _followedAt = at;
        }
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate) return base.GetUtcNow() + Stopwatch.GetElapsedTime(_followedAt);
    }
}
