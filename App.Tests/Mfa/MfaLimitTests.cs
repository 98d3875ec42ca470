using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Infrastructure;
using SessionGate.Tests.Gateway;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Mfa;

/// <summary>
/// Short limits, so the tests can reach them: 3 failures per account and address, aal2 good for 3 s (on the app's
/// clock, which the tests move ahead), ceremonies for 2 s (a Redis TTL: real time).
/// </summary>
public sealed class TightMfaFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override bool UsesTestClock => true;

    /// <summary>The app's clock: it keeps pace with real time, and a test moves it ahead rather than sleeping.</summary>
    public new TestClock Clock => base.Clock!;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["LoginLimits:MaxFailuresPerAccountAndAddress"] = "3";
        settings["Mfa:StepUpMaxAge"] = "00:00:03";
        settings["WebAuthn:ChallengeLifetime"] = "00:00:02";
    }

}

public sealed class MfaLimitTests_Opaque(TightMfaFixture<Opaque> fx, ITestOutputHelper o) : MfaLimitTests<Opaque>(fx, o), IClassFixture<TightMfaFixture<Opaque>>;
public sealed class MfaLimitTests_Blacklist(TightMfaFixture<Blacklist> fx, ITestOutputHelper o) : MfaLimitTests<Blacklist>(fx, o), IClassFixture<TightMfaFixture<Blacklist>>;
public sealed class MfaLimitTests_SessionCache(TightMfaFixture<SessionCache> fx, ITestOutputHelper o) : MfaLimitTests<SessionCache>(fx, o), IClassFixture<TightMfaFixture<SessionCache>>;

/// <summary>The limits: wrong codes count like wrong passwords, aal2 ages out, ceremonies expire; every mode.</summary>
public abstract class MfaLimitTests<TMode> where TMode : IMode
{
    private readonly TightMfaFixture<TMode> _fx;
    private ApiClient Api => _fx.Api;
    private readonly MfaSteps _steps;

    protected MfaLimitTests(TightMfaFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
        _steps = new MfaSteps(fx.Api);
    }

    [Fact]
    public async Task Wrong_codes_count_like_wrong_passwords_and_lock_that_address_out_of_the_account()
    {
        var user = await _fx.NewUserAsync();
        var first = await Api.LoginAsync(user);
        var device = first.Body.As<LoginResponse>().DeviceToken!;
        var totp = await _steps.EnrolTotpAsync(first);
        var token = (await _steps.PasswordStepAsync(user)).MfaToken!;
        var used = new[] { totp.Code(-1), totp.Code(), totp.Code(1), totp.Code(2) };
        foreach (var code in new[] { "000000", "111111", "222222", "333333", "444444" }.Where(c => !used.Contains(c)).Take(3))
            await Problem.AssertAsync(await _steps.SecondStepAsync(token, new { code }), HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        // Past the limit: even the right code is not looked at from this address, and neither is the password.
        var limited = await _steps.SecondStepAsync(token, new { code = totp.Code(1) });
        await Problem.AssertAsync(limited, HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        Assert.NotNull(limited.Headers.RetryAfter);
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password }),
            HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
        // The owner, from elsewhere, still gets in.
        var elsewhere = await Api.LoginFromAsync("198.51.100.7", new { tenant = user.Tenant, username = user.Username, password = user.Password });
        await Problem.AssertAsync(elsewhere, HttpStatusCode.Unauthorized, Problems.MfaRequired);
        // And from this very address on the device it signed in with before: both steps count that device only.
        var known = await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password, device_token = device }),
            HttpStatusCode.Unauthorized, Problems.MfaRequired);
        var signedIn = await _steps.SecondStepAsync(known.MfaToken!, new { code = totp.Code(1), device_token = device });
        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
    }

    [Fact]
    public async Task A_known_password_does_not_reset_the_count_of_wrong_codes()
    {
        var user = await _fx.NewUserAsync();
        var totp = await _steps.EnrolTotpAsync(await Api.LoginAsync(user));
        var used = new[] { totp.Code(-1), totp.Code(), totp.Code(1), totp.Code(2) };
        var wrong = new[] { "000000", "111111", "222222", "333333", "444444" }.Where(c => !used.Contains(c)).ToArray();
        for (var i = 0; i < 3; i++)
        {
            // A fresh password step each time: only the second factor's failures add up.
            var token = (await _steps.PasswordStepAsync(user)).MfaToken!;
            await Problem.AssertAsync(await _steps.SecondStepAsync(token, new { code = wrong[i] }), HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        }
        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password }),
            HttpStatusCode.TooManyRequests, Problems.TooManyAttempts);
    }

    [Fact]
    public async Task An_aal2_proof_older_than_max_age_needs_a_new_step_up()
    {
        var user = await _fx.NewUserAsync();
        var totp = await _steps.EnrolTotpAsync(await Api.LoginAsync(user));
        var login = await _steps.LoginWithTotpAsync(user, totp);
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(HttpMethod.Post, "/auth/mfa/recovery-codes", login)).StatusCode);
        _fx.Clock.Skip(TimeSpan.FromSeconds(4));
        var stale = await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/mfa/recovery-codes", login), HttpStatusCode.Unauthorized, Problems.StepUpRequired);
        Assert.Equal(3L, stale.MaxAge);
        Assert.Equal("aal2", (await Api.MeAsync(login)).Session.Acr); // still aal2, only not recent
    }

    /// <summary>Waits until Redis has dropped the ceremony (a real TTL: the app's clock does not move it).</summary>
    private Task CeremonyGoneAsync(string ceremonyId)
    {
        var redis = _fx.Factory.Services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>().GetDatabase();
        var key = $"{_fx.Prefix}{{wa:{SessionGate.Mfa.MfaStore.HashOf(ceremonyId)}}}";
        return Eventually.ThatAsync(() => redis.KeyExistsAsync(key), exists => !exists, TimeSpan.FromSeconds(10), "the ceremony expiring");
    }

    [Fact]
    public async Task An_expired_ceremony_is_refused()
    {
        var user = await _fx.NewUserAsync();
        var key = new SoftAuthenticator();
        var login = await Api.LoginAsync(user);
        var (ceremony, options) = await _steps.CreationAsync(login);
        await CeremonyGoneAsync(ceremony); // its Redis TTL runs out
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys", login, new { ceremony_id = ceremony, credential = key.Create(options) }),
            HttpStatusCode.BadRequest, Problems.InvalidMfaCode);
        key.Credentials.Clear();
        await _steps.RegisterPasskeyAsync(login, key);
        var (signIn, signInOptions) = await _steps.OptionsAsync("/auth/passkeys/login/options", null, new { tenant = "acme" });
        await CeremonyGoneAsync(signIn);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login", body: new { ceremony_id = signIn, credential = key.Get(signInOptions) }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
    }
}

/// <summary>The gateway fixture on a clock the tests move ahead.</summary>
public sealed class ClockedGatewayFixture<TMode> : GatewayFixture<TMode> where TMode : IMode
{
    protected override bool UsesTestClock => true;

    /// <summary>The app's clock: it keeps pace with real time, and a test moves it ahead rather than sleeping.</summary>
    public new TestClock Clock => base.Clock!;
}

public sealed class MfaGatewayTests_Opaque(ClockedGatewayFixture<Opaque> fx, ITestOutputHelper o) : MfaGatewayTests<Opaque>(fx, o), IClassFixture<ClockedGatewayFixture<Opaque>>;
public sealed class MfaGatewayTests_Blacklist(ClockedGatewayFixture<Blacklist> fx, ITestOutputHelper o) : MfaGatewayTests<Blacklist>(fx, o), IClassFixture<ClockedGatewayFixture<Blacklist>>;
public sealed class MfaGatewayTests_SessionCache(ClockedGatewayFixture<SessionCache> fx, ITestOutputHelper o) : MfaGatewayTests<SessionCache>(fx, o), IClassFixture<ClockedGatewayFixture<SessionCache>>;

/// <summary>The internal JWT a downstream verifies carries the session's acr, amr and auth_time, and follows a step-up; every mode.</summary>
public abstract class MfaGatewayTests<TMode> where TMode : IMode
{
    private readonly ClockedGatewayFixture<TMode> _fx;
    private ApiClient Api => _fx.Api;
    private readonly MfaSteps _steps;

    protected MfaGatewayTests(ClockedGatewayFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
        _steps = new MfaSteps(fx.Api);
    }

    private async Task<InternalClaims> ClaimsAsync(Login login) =>
        (await (await Api.GetAsync("/down/claims", login)).ReadAsync<DownstreamEcho>()).Claims;

    [Fact]
    public async Task The_internal_jwt_carries_acr_amr_and_auth_time_and_follows_a_step_up()
    {
        var user = await _fx.NewUserAsync(["user"]);
        var login = await Api.LoginAsync(user);
        var me = await Api.MeAsync(login);
        var before = await ClaimsAsync(login);
        Assert.Equal("aal1", before.Acr);
        Assert.Equal(["pwd"], before.Amr);
        Assert.Equal(me.Session.AuthTime.ToUnixTimeSeconds(), before.AuthTime);

        var totp = await _steps.EnrolTotpAsync(login);
        _fx.Clock.Skip(TimeSpan.FromSeconds(1)); // auth_time has a resolution of a second
        var (_, raised) = await _steps.StepUpAsync(login, new { code = totp.Code(1) });
        var after = await ClaimsAsync(raised);
        Assert.Equal("aal2", after.Acr);
        Assert.Equal(["pwd", "otp", "mfa"], after.Amr);
        Assert.True(after.AuthTime > before.AuthTime);
    }

    [Fact]
    public async Task An_enrolment_only_session_never_reaches_a_downstream()
    {
        var tenant = await _fx.NewTenantAsync();
        var platform = await _fx.PlatformAdminAsync();
        await (await Api.SendAsync(HttpMethod.Put, $"/admin/tenants/{tenant}/mfa-policy", platform, new { require = "all" })).ReadAsync<MfaPolicy>();
        var user = await _fx.NewUserAsync(tenant: tenant);
        var hits = _fx.Hits;
        await Problem.AssertAsync(await Api.GetAsync("/down/claims", await Api.LoginAsync(user)), HttpStatusCode.Forbidden, Problems.MfaEnrollmentRequired);
        Assert.Equal(hits, _fx.Hits);
    }
}
