using System.Net;

namespace SessionGate.Tests.Infrastructure;

public static class Eventually
{
    /// <summary>
    /// Reads <paramref name="read"/> until <paramref name="holds"/> says yes, and returns that value; fails, naming
    /// <paramref name="what"/> and the last value, after <paramref name="within"/>. For waits on a real event (a relay
    /// tick, a log line, a pub/sub message) rather than a fixed sleep.
    /// </summary>
    public static async Task<T> ThatAsync<T>(Func<Task<T>> read, Func<T, bool> holds, TimeSpan within, string what)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            var value = await read();
            if (holds(value)) return value;
            if (DateTimeOffset.UtcNow > deadline) Assert.Fail($"{what}: not within {within.TotalSeconds} s; last {value}");
            await Task.Delay(50);
        }
    }

    /// <summary>Repeats <paramref name="send"/> until it answers <paramref name="status"/>; fails after <paramref name="within"/>.</summary>
    public static async Task<HttpResponseMessage> StatusAsync(Func<Task<HttpResponseMessage>> send, HttpStatusCode status, TimeSpan within)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            var response = await send();
            if (response.StatusCode == status) return response;
            if (DateTimeOffset.UtcNow > deadline)
                Assert.Fail($"expected {(int)status} within {within.TotalSeconds} s; still {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Repeats <paramref name="send"/> while it answers 503 (a dependency coming back); fails after <paramref name="within"/>.</summary>
    public static async Task<HttpResponseMessage> AnsweredAsync(Func<Task<HttpResponseMessage>> send, TimeSpan within)
    {
        var deadline = DateTimeOffset.UtcNow + within;
        while (true)
        {
            var response = await send();
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable) return response;
            if (DateTimeOffset.UtcNow > deadline) Assert.Fail($"still 503 after {within.TotalSeconds} s: {await response.Content.ReadAsStringAsync()}");
            await Task.Delay(50);
        }
    }
}
