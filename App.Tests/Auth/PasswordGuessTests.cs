using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

public sealed class PasswordGuessTests_Opaque(AccountLimitFixture<Opaque> fx) : PasswordGuessTests<Opaque>(fx), IClassFixture<AccountLimitFixture<Opaque>>;
public sealed class PasswordGuessTests_Blacklist(AccountLimitFixture<Blacklist> fx) : PasswordGuessTests<Blacklist>(fx), IClassFixture<AccountLimitFixture<Blacklist>>;
public sealed class PasswordGuessTests_SessionCache(AccountLimitFixture<SessionCache> fx) : PasswordGuessTests<SessionCache>(fx), IClassFixture<AccountLimitFixture<SessionCache>>;

/// <summary>
/// Wrong <c>current_password</c>s, on every path that asks for one, are counted per (account, device), or per (account,
/// address) and account-wide without a device token (limits 3 and 5 here): a thief holding a session can neither
/// guess without limit nor keep the owner's device from changing the password.
/// </summary>
public abstract class PasswordGuessTests<TMode>(AccountLimitFixture<TMode> fx) where TMode : IMode
{
    private const string NewPassword = "another-password-456";

    private Task<HttpResponseMessage> ChangeAsync(Login session, string from, string current, string? device = null, string? cookie = null) =>
        fx.Api.SendAsync(HttpMethod.Post, "/auth/password", session,
            device is null ? new { current_password = current, new_password = NewPassword } : new { current_password = current, new_password = NewPassword, device_token = device },
            r =>
            {
                r.Headers.Add("X-Forwarded-For", from);
                if (cookie is not null) r.Headers.Add("Cookie", "__Host-device=" + cookie);
            });

    private async Task<(Login Session, string Device)> SignInAsync(TestUser user, string from)
    {
        var login = await ApiClient.ReadLoginAsync(await fx.Api.Attempt(from, user, user.Password));
        return (login, login.Tokens.DeviceToken!);
    }

    [Fact]
    public async Task A_thief_with_the_session_is_limited_and_the_owners_device_still_changes_the_password()
    {
        var user = await fx.NewUserAsync();
        var (session, device) = await SignInAsync(user, "198.51.100.80");
        // The thief replays the session from elsewhere, without the device's token.
        for (var i = 0; i < 3; i++)
            await Problem.AssertAsync(await ChangeAsync(session, "203.0.113.80", LoginAttempts.WrongPassword), HttpStatusCode.Forbidden, Problems.InvalidCredentials);
        var limited = await ChangeAsync(session, "203.0.113.80", user.Password);
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.True(limited.Headers.Contains("Retry-After"));
        // The owner's device (its token as the cookie here) is not blocked by the thief's failures.
        Assert.Equal(HttpStatusCode.NoContent, (await ChangeAsync(session, "198.51.100.80", user.Password, cookie: device)).StatusCode);
        await fx.Api.LoginAsync(user with { Password = NewPassword });
    }

    [Fact]
    public async Task Guesses_without_a_device_token_are_capped_account_wide_whatever_the_address()
    {
        var user = await fx.NewUserAsync();
        var (session, device) = await SignInAsync(user, "198.51.100.81");
        for (var i = 0; i < 3; i++) await ChangeAsync(session, "203.0.113.90", LoginAttempts.WrongPassword);
        await Problem.AssertAsync(await ChangeAsync(session, "203.0.113.90", LoginAttempts.WrongPassword), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        for (var i = 0; i < 2; i++)
            await Problem.AssertAsync(await ChangeAsync(session, "203.0.113.91", LoginAttempts.WrongPassword), HttpStatusCode.Forbidden, Problems.InvalidCredentials);
        // Five without a device token in all: a fresh address gets no more.
        await Problem.AssertAsync(await ChangeAsync(session, "203.0.113.92", user.Password), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        // A device token of another account is no token.
        var other = await SignInAsync(await fx.NewUserAsync(), "198.51.100.82");
        await Problem.AssertAsync(await ChangeAsync(session, "203.0.113.92", user.Password, other.Device), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.Equal(HttpStatusCode.NoContent, (await ChangeAsync(session, "203.0.113.92", user.Password, device)).StatusCode);
    }

    [Fact]
    public async Task An_admin_changing_its_own_password_shares_the_counters_of_its_device()
    {
        var admin = await fx.NewUserAsync(["admin"]);
        var (session, device) = await SignInAsync(admin, "198.51.100.83");
        var url = $"/admin/users/{admin.Id}";
        Task<HttpResponseMessage> Patch(string current, string token) =>
            fx.Api.SendAsync(HttpMethod.Patch, url, session, new { password = NewPassword, current_password = current, device_token = token },
                r => r.Headers.Add("X-Forwarded-For", "198.51.100.83"));
        for (var i = 0; i < 3; i++) await Problem.AssertAsync(await Patch(LoginAttempts.WrongPassword, device), HttpStatusCode.Forbidden, Problems.InvalidCredentials);
        await Problem.AssertAsync(await Patch(admin.Password, device), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        // The same device's counter holds on the other path too; another device of the owner is not blocked.
        await Problem.AssertAsync(await ChangeAsync(session, "198.51.100.83", admin.Password, device), HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        var (_, second) = await SignInAsync(admin, "198.51.100.84");
        Assert.Equal(HttpStatusCode.OK, (await Patch(admin.Password, second)).StatusCode);
        await fx.Api.LoginAsync(admin with { Password = NewPassword });
    }
}
