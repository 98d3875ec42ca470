using Microsoft.Extensions.Options;
using SessionGate.Auth;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>
/// Wrong second-factor codes count like wrong passwords: each attempt is reserved on the same failed-login counters
/// (per account and address, per account, per address) before it is checked, and only a wrong one keeps its
/// reservation. This class is the one place that calls the login limiter (<see cref="RedisStore.ReserveLoginAsync"/>).
/// </summary>
public sealed class CodeAttempts(RedisStore redis, IOptions<LoginLimitOptions> limits, TimeProvider time)
{
    /// <summary>One reserved attempt; <see cref="RetryAfter"/> is set when a limit already holds (nothing was counted then).</summary>
    public sealed record Attempt(LoginReservation? Reservation, TimeSpan? RetryAfter);

    public async Task<Attempt> BeginAsync(string tenantSlug, string normalizedUsername, string limitAddress)
    {
        var limit = limits.Value;
        var r = await redis.ReserveLoginAsync(LoginService.Account(tenantSlug, normalizedUsername), limitAddress, limit.Window,
            limit.MaxFailuresPerAccountAndAddress, time.GetUtcNow());
        var retry = r.PairFailures > limit.MaxFailuresPerAccountAndAddress ? r.PairResetsIn
            : r.AccountFailures > limit.MaxFailuresPerAccount ? r.AccountResetsIn
            : r.AddressFailures > limit.MaxFailuresPerIp ? await redis.ResetsInAsync(r.AddressKey) ?? limit.Window
            : (TimeSpan?)null;
        if (retry is null) return new Attempt(r, null);
        await redis.ReleaseLoginAsync(r, succeeded: false);
        return new Attempt(null, retry > TimeSpan.Zero ? retry : limit.Window);
    }

    /// <summary>The code was right: the reservation goes back and this address's failures on the account are cleared.</summary>
    public Task SucceededAsync(Attempt a) => ReleaseAsync(a, true);

    /// <summary>Not a guess after all (bad input, an outage): the reservation goes back.</summary>
    public Task AbandonAsync(Attempt a) => ReleaseAsync(a, false);

    private async Task ReleaseAsync(Attempt a, bool succeeded)
    {
        if (a.Reservation is not { } r) return;
        try
        {
            await redis.ReleaseLoginAsync(r, succeeded);
        }
        catch (Exception e) when (DependencyHealth.IsRedisFailure(e))
        {
            // The reservation expires with its window.
        }
    }
}
