using Microsoft.AspNetCore.Identity;
using SessionGate.Data;

namespace SessionGate.Auth;

/// <summary>The answer to a <c>current_password</c>: right, wrong, or not checked because of too many wrong ones.</summary>
public readonly record struct CurrentPasswordResult(bool Right, TimeSpan? RetryAfter)
{
    public bool Limited => RetryAfter is not null;
}

/// <summary>
/// Checks a signed-in caller's <c>current_password</c> on every path that asks for it (POST /auth/password, PATCH
/// /admin/users/{self}), with the guess limits of <see cref="LoginThrottle.BeginPasswordGuessAsync"/>: counted per
/// (account, device) when the caller presents a device token of the account, else per (account, address) and
/// account-wide. A stolen session is then no unlimited password oracle, and its thief cannot block the owner's device.
/// </summary>
public sealed class CurrentPassword(LoginThrottle throttle, DeviceTokens devices, PasswordPolicy passwords)
{
    /// <summary>
    /// Checks <paramref name="password"/> against <paramref name="user"/>'s hash, unless the caller's guesses are used up.
    /// <paramref name="account"/> is the caller's account as it signed in (<see cref="LoginService.Account"/>), which its
    /// device tokens name; the device token is <paramref name="bodyDevice"/> or the cookie of <paramref name="http"/>.
    /// </summary>
    public async Task<CurrentPasswordResult> CheckAsync(HttpContext http, User user, string account, string password, string? bodyDevice, CancellationToken ct)
    {
        var device = devices.Validate(DeviceTokens.Presented(http, bodyDevice), account);
        var decision = await throttle.BeginPasswordGuessAsync(user.Id, device, ClientNetwork.Of(http).LimitKey);
        if (decision.Refused is not null) return new CurrentPasswordResult(false, decision.RetryAfter);
        bool? right = null;
        try
        {
            right = await passwords.VerifyAsync(user, user.PasswordHash, password, HashingLane.SignedIn(user.Id), ct) != PasswordVerificationResult.Failed;
            return new CurrentPasswordResult(right.Value, null);
        }
        finally
        {
            // A wrong password keeps its reservation; the right one clears this device's (or address's) count, and an
            // outage, a saturated hasher or a cancelled request gives it back.
            if (right != false) await throttle.ReleaseAsync(decision, succeeded: right == true);
        }
    }
}
