using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SessionGate.Infrastructure;

namespace SessionGate.Tests.Infrastructure;

/// <summary>An outage is one outage in the log, even when some requests succeed in it without reaching the dependency.</summary>
public sealed class DependencyHealthTests
{
    [Fact]
    public void A_success_amid_failures_does_not_end_the_outage_one_after_a_quiet_second_does()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-01-01T00:00:00Z"));
        var health = new DependencyHealth(NullLogger<DependencyHealth>.Instance, time);
        var failure = new TimeoutException("down");

        health.Failed(Dependency.Redis, failure);
        Assert.True(health.IsDown(Dependency.Redis));
        time.Advance(TimeSpan.FromMilliseconds(400));
        health.Succeeded(Dependency.Redis); // an L1 hit, say
        Assert.True(health.IsDown(Dependency.Redis));
        health.Failed(Dependency.Redis, failure);
        time.Advance(TimeSpan.FromMilliseconds(900));
        health.Succeeded(Dependency.Redis);
        Assert.True(health.IsDown(Dependency.Redis));
        time.Advance(TimeSpan.FromMilliseconds(200));
        health.Succeeded(Dependency.Redis);
        Assert.False(health.IsDown(Dependency.Redis));
        Assert.False(health.IsDown(Dependency.Postgres));
    }
}
