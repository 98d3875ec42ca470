using Microsoft.Extensions.Configuration;
using SessionGate.Auth;

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
        // A stranger's wrong passwords from one address stop at the per-address limit; the account-wide ceiling is
        // only against many addresses, so it must sit far above what a handful of requests can reach.
        Assert.InRange(limits.MaxFailuresPerAccountAndAddress, 3, 10);
        Assert.True(limits.MaxFailuresPerAccount >= 10 * limits.MaxFailuresPerAccountAndAddress,
            $"LoginLimits:MaxFailuresPerAccount ({limits.MaxFailuresPerAccount}) would let a few wrong passwords lock the owner out");
        Assert.True(limits.MaxPasswordChangeFailures is > 0 and <= 10);
    }
}
