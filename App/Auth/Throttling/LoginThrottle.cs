namespace SessionGate.Auth;

/// <summary>What the limits say about one attempt: refused (and by which limit), or go ahead after <see cref="Delay"/>.</summary>
/// <param name="Reservation">The counters this attempt reserved (already given back when refused).</param>
/// <param name="Refused">The limit that refuses the attempt (a <see cref="LoginCounters"/> scope), or null.</param>
/// <param name="LockStarted">This is the first refusal of that limit in its window (audit and log it once).</param>
/// <param name="RetryAfter">When refused: how long until the limit's window ends.</param>
/// <param name="Delay">When not refused: how long to wait before the password is checked (an account under attack, new devices).</param>
public sealed record LimitDecision(LimitReservation Reservation, string? Refused, bool LockStarted, TimeSpan RetryAfter, TimeSpan Delay);

/// <summary>
/// The failed-login rules in one place (the counters live in <see cref="LoginCounters"/>):
/// <list type="bullet">
/// <item>a <b>known device</b> (a valid device token of the account) is counted on its own and refused only after
/// <see cref="LoginLimitOptions.MaxFailuresPerDevice"/> of its own failures: failures elsewhere never touch it;</item>
/// <item>a <b>new device</b> is refused (429) past the (account, address) limit, the per-address limit or an IPv6
/// /56 or /48 limit, all about where the attempt comes from; account-wide it is only slowed down, so the owner on
/// a new device still gets in, at most <see cref="LoginLimitOptions.NewDeviceMaxDelay"/> later;</item>
/// <item>new devices' failures are counted service-wide too: above
/// <see cref="LoginLimitOptions.UnderAttackFailuresPerMinute"/>, hashing keeps workers for known devices;</item>
/// <item>a wrong <c>current_password</c> is counted per (account, device), or per (account, address) and
/// account-wide without a device token, so a thief holding a session can neither block the owner's device nor guess
/// without limit.</item>
/// </list>
/// Attempts are reserved before the slow password check, atomically, so parallel guesses cannot all slip under a
/// limit; only a wrong password keeps its reservation.
/// </summary>
public sealed class LoginThrottle(LoginCounters counters, PasswordHashing hashing, TimeProvider time, IOptions<LoginLimitOptions> options)
{
    private LoginLimitOptions Limits => options.Value;

    /// <summary>Reserves a login attempt and applies the limits of a known device (when <paramref name="device"/> is set) or a new one.</summary>
    public async Task<LimitDecision> BeginLoginAsync(string account, ClientNetwork network, Guid? device)
    {
        var limit = Limits;
        if (device is { } known)
        {
            var reservation = await counters.ReserveDeviceAsync(account, known, limit.Window);
            return await DecideAsync(reservation, (LoginCounters.DeviceScope, limit.MaxFailuresPerDevice));
        }
        var r = await counters.ReserveNewDeviceAsync(account, network, limit.Window, limit.MaxFailuresPerAccountAndAddress, time.GetUtcNow());
        var decision = await DecideAsync(r,
            (LoginCounters.PairScope, limit.MaxFailuresPerAccountAndAddress),
            (LoginCounters.AddressScope, limit.MaxFailuresPerIp),
            (LoginCounters.Slash56Scope, limit.MaxFailuresPerIpv6Slash56),
            (LoginCounters.Slash48Scope, limit.MaxFailuresPerIpv6Slash48));
        return decision.Refused is null ? decision with { Delay = NewDeviceDelay(r.Of(LoginCounters.AccountScope)?.Count ?? 0) } : decision;
    }

    /// <summary>
    /// The account-wide defence against many addresses: past <see cref="LoginLimitOptions.MaxFailuresPerAccount"/>
    /// (this attempt included), new devices wait, twice as long for every further as many failures, up to the cap.
    /// </summary>
    public TimeSpan NewDeviceDelay(long accountAttempts)
    {
        var limit = Limits;
        var over = accountAttempts - 1 - limit.MaxFailuresPerAccount;
        if (over < 0) return TimeSpan.Zero;
        var doublings = Math.Min(30, over / Math.Max(1, limit.MaxFailuresPerAccount));
        var delay = limit.NewDeviceDelay * Math.Pow(2, doublings);
        return delay < limit.NewDeviceMaxDelay ? delay : limit.NewDeviceMaxDelay;
    }

    /// <summary>A wrong password was checked: it keeps its reservation, and a new device's counts service-wide.</summary>
    public async Task FailedLoginAsync(bool knownDevice)
    {
        if (knownDevice) return;
        try
        {
            if (await counters.CountServiceFailureAsync(time.GetUtcNow()) >= Limits.UnderAttackFailuresPerMinute)
                hashing.ReserveForKnownDevices(TimeSpan.FromMinutes(1));
        }
        catch (Exception e) when (DependencyHealth.IsRedisFailure(e))
        {
            // The service-wide count only tunes hashing; the answer does not wait for it.
        }
    }

    /// <summary>Reserves a <c>current_password</c> guess (POST /auth/password, PATCH /admin/users/{self}).</summary>
    public async Task<LimitDecision> BeginPasswordGuessAsync(Guid userId, Guid? device, string limitKey)
    {
        var limit = Limits;
        var reservation = await counters.ReservePasswordGuessAsync(userId, device, limitKey, limit.Window);
        return await DecideAsync(reservation,
            (LoginCounters.GuessScope, limit.MaxPasswordChangeFailures),
            (LoginCounters.GuessAccountScope, limit.MaxPasswordChangeFailuresPerAccount));
    }

    /// <summary>Gives a reservation back: the attempt was no wrong password (right, or not checked because of an outage, a saturated hasher or a cancelled request).</summary>
    public async Task ReleaseAsync(LimitDecision decision, bool succeeded)
    {
        try
        {
            await counters.ReleaseAsync(decision.Reservation, succeeded);
        }
        catch (Exception e) when (DependencyHealth.IsRedisFailure(e))
        {
            // Redis is down: the reservation expires with its window.
        }
    }

    private async Task<LimitDecision> DecideAsync(LimitReservation r, params (string Scope, int Max)[] limits)
    {
        foreach (var (scope, max) in limits)
        {
            if (r.Of(scope) is not { } count || count.Count <= max) continue;
            await counters.ReleaseAsync(r, succeeded: false);
            return new LimitDecision(r, scope, count.Count == max + 1, count.ResetsIn > TimeSpan.Zero ? count.ResetsIn : Limits.Window, TimeSpan.Zero);
        }
        return new LimitDecision(r, null, false, TimeSpan.Zero, TimeSpan.Zero);
    }
}
