namespace SessionGate.Tests.Events;

/// <summary>Waits for a real event by asking again (a short pause between asks) instead of sleeping a fixed time.</summary>
public static class Poll
{
    /// <summary>Reads until <paramref name="done"/> holds and returns that reading; fails after <paramref name="within"/>.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan within, string what)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            var value = await read();
            if (done(value)) return value;
            if (DateTimeOffset.UtcNow > deadline) Assert.Fail($"{what}: not within {within.TotalSeconds} s; last: {value}");
            await Task.Delay(50);
        }
    }
}
