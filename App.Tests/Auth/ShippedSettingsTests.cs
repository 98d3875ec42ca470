using Microsoft.Extensions.Configuration;
using SessionGate.Auth;
using SessionGate.Infrastructure;

namespace SessionGate.Tests.Auth;

/// <summary>The repository's appsettings.json, as shipped: the fixtures override limits, so these read the file itself.</summary>
public sealed class ShippedSettingsTests
{
    private static IConfiguration Shipped() => new ConfigurationBuilder()
        .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: false).Build();

    [Fact]
    public void The_shipped_login_limits_let_no_stranger_lock_the_owner_out()
    {
        var limits = Shipped().GetSection("LoginLimits").Get<LoginLimitOptions>() ?? new LoginLimitOptions();
        // A stranger's wrong passwords from one address stop at the per-address limit; account-wide, new devices are
        // only slowed down, by seconds at most, and a known device counts only its own failures.
        Assert.InRange(limits.MaxFailuresPerAccountAndAddress, 3, 10);
        Assert.True(limits.NewDeviceMaxDelay <= TimeSpan.FromSeconds(5), $"LoginLimits:NewDeviceMaxDelay ({limits.NewDeviceMaxDelay}) keeps the owner on a new device waiting too long");
        Assert.True(limits.MaxFailuresPerDevice >= limits.MaxFailuresPerAccountAndAddress);
        Assert.True(limits.MaxFailuresPerIp < limits.MaxFailuresPerIpv6Slash56 && limits.MaxFailuresPerIpv6Slash56 < limits.MaxFailuresPerIpv6Slash48);
        Assert.True(limits.MaxPasswordChangeFailures is > 0 and <= 10);
        Assert.True(limits.MaxPasswordChangeFailuresPerAccount >= limits.MaxPasswordChangeFailures);
        Assert.True(limits.DeviceTokenLifetime >= TimeSpan.FromDays(30));
    }

    [Fact]
    public void The_shipped_hashing_is_argon2id_at_owasps_minimum_or_stronger_and_no_request_flood_can_starve_it()
    {
        var hashing = Shipped().GetSection("PasswordHashing").Get<PasswordHashingOptions>() ?? new PasswordHashingOptions();
        Assert.Equal(PasswordAlgorithm.Argon2id, hashing.Algorithm);
        Assert.True(hashing.MeetsOwaspArgon2Minimum(), $"m={hashing.Argon2MemoryKiB} KiB, t={hashing.Argon2Iterations}");
        // A weight, not idle priority: 19 is the lowest weight the kernel gives a niceness (15 against 1024).
        Assert.InRange(hashing.Niceness, 0, 10);
        Assert.True(hashing.ReservedForKnownDevices >= 1);
        var rates = Shipped().GetSection("RateLimits").Get<RateLimitOptions>() ?? new RateLimitOptions();
        Assert.True(rates.PerSessionPerSecond > 0 && rates.PerAddressPerSecond > 0 && rates.StateChangesPerSessionPerSecond > 0,
            "authenticated traffic is rate-limited per session and per address as shipped");
    }
}
