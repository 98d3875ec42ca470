namespace SessionGate.Auth;

/// <summary>
/// Wrong second-factor codes count like wrong passwords: each attempt is reserved through the login throttle (a
/// known device on its own counters, a new device on the (account, address), address and IPv6 prefix counters)
/// before it is checked, and only a wrong one keeps its reservation. This class is the one place the second-factor
/// paths call the throttle.
/// </summary>
public sealed class CodeAttempts(LoginThrottle throttle, DeviceTokens devices)
{
    /// <summary>One reserved attempt; <see cref="RetryAfter"/> is set when a limit already holds (nothing was counted then).</summary>
    public sealed record Attempt(LimitDecision? Decision, TimeSpan? RetryAfter);

    public async Task<Attempt> BeginAsync(string tenantSlug, string normalizedUsername, ClientNetwork network, string? presentedDevice)
    {
        var account = LoginService.Account(tenantSlug, normalizedUsername);
        var decision = await throttle.BeginLoginAsync(account, network, devices.Validate(presentedDevice, account));
        // A refusal already gave its reservation back. A new device's account-wide delay is for password guesses; a
        // code is only asked of someone who knew the password, and is limited by the counters themselves.
        return decision.Refused is null ? new Attempt(decision, null) : new Attempt(null, decision.RetryAfter);
    }

    /// <summary>The code was right: the reservation goes back and this address's (or device's) failures on the account are cleared.</summary>
    public Task SucceededAsync(Attempt a) => ReleaseAsync(a, true);

    /// <summary>Not a guess after all (bad input, an outage): the reservation goes back.</summary>
    public Task AbandonAsync(Attempt a) => ReleaseAsync(a, false);

    private Task ReleaseAsync(Attempt a, bool succeeded) =>
        a.Decision is { } d ? throttle.ReleaseAsync(d, succeeded) : Task.CompletedTask;
}
