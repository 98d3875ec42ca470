using System.Net;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Infrastructure;
using SessionGate.Tests.AdminConsole;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Mfa;

public sealed class MfaTests_Opaque(AppFixture<Opaque> fx, ITestOutputHelper o) : MfaTests<Opaque>(fx, o), IClassFixture<AppFixture<Opaque>>;
public sealed class MfaTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper o) : MfaTests<Blacklist>(fx, o), IClassFixture<AppFixture<Blacklist>>;
public sealed class MfaTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper o) : MfaTests<SessionCache>(fx, o), IClassFixture<AppFixture<SessionCache>>;

/// <summary>TOTP, recovery codes, the mfa-token login step, step-up and the session's assurance, over HTTP; every mode.</summary>
public abstract class MfaTests<TMode> where TMode : IMode
{
    protected readonly AppFixture<TMode> Fx;
    protected ApiClient Api => Fx.Api;
    protected readonly MfaSteps Steps;

    protected MfaTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        Fx = fx;
        fx.Attach(output);
        Steps = new MfaSteps(fx.Api);
    }

    private async Task<MfaFactors> FactorsAsync(Login login) => await (await Api.GetAsync("/auth/mfa", login)).ReadAsync<MfaFactors>();

    private async Task<OwnSession[]> SessionsAsync(Login login) => await (await Api.GetAsync("/auth/sessions", login)).ReadAsync<OwnSession[]>();

    private async Task<Paged<AuditEntry>> AuditAsync(string query) =>
        await (await Api.GetAsync("/admin/audit?" + query, await Fx.AliceAsync())).ReadAsync<Paged<AuditEntry>>();

    private static void AssertAssurance(Me me, string acr, string[] amr)
    {
        Assert.Equal(acr, me.Session.Acr);
        Assert.Equal(amr, me.Session.Amr);
        Assert.InRange(me.Session.AuthTime, DateTimeOffset.UtcNow.AddMinutes(-2), DateTimeOffset.UtcNow.AddSeconds(5));
    }

    [Fact]
    public async Task A_password_session_is_aal1_with_pwd_in_me_and_in_the_access_token()
    {
        var user = await Fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var me = await Api.MeAsync(login);
        AssertAssurance(me, "aal1", ["pwd"]);
        Assert.True(me.Session.AuthTime >= me.Session.CreatedAt.AddSeconds(-1));
        if (TMode.SelfContainedAccessToken)
        {
            var token = new JsonWebToken(login.Bearer);
            Assert.Equal("aal1", token.GetClaim("acr").Value);
            Assert.Equal(["pwd"], token.Claims.Where(c => c.Type == "amr").Select(c => c.Value));
            Assert.Equal(me.Session.AuthTime.ToUnixTimeSeconds(), token.GetPayloadValue<long>("auth_time"));
        }
    }

    [Fact]
    public async Task Totp_enrolment_gives_a_base32_secret_an_otpauth_uri_a_qr_code_and_ten_hashed_recovery_codes()
    {
        var user = await Fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        Assert.True((await FactorsAsync(login)).None);

        var start = await (await Api.SendAsync(HttpMethod.Post, "/auth/mfa/totp", login)).ReadAsync<TotpStart>();
        var secret = start.Secret;
        Assert.Matches("^[A-Z2-7]{32}$", secret);
        var uri = new Uri(start.OtpauthUri);
        Assert.Equal("otpauth", uri.Scheme);
        Assert.Equal("totp", uri.Host);
        var query = QueryHelpers.ParseQuery(uri.Query);
        Assert.Equal(secret, query["secret"]);
        Assert.Equal("SessionGate", query["issuer"]);
        Assert.Equal("6", query["digits"]);
        Assert.Equal("30", query["period"]);
        Assert.Equal("SHA1", query["algorithm"]);
        Assert.Contains(Uri.EscapeDataString(user.Username), uri.AbsolutePath, StringComparison.Ordinal);

        // Not active until confirmed: a login still needs only the password.
        Assert.False((await FactorsAsync(login)).Totp);
        await Api.LoginAsync(user);

        var qr = await Api.GetAsync("/auth/mfa/totp/qr", login);
        Assert.Equal(HttpStatusCode.OK, qr.StatusCode);
        Assert.Equal("image/svg+xml", qr.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("<svg", (await qr.Content.ReadAsStringAsync()).TrimStart(), StringComparison.Ordinal);
        Assert.Equal("no-store", qr.Headers.CacheControl?.ToString());

        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/mfa/totp/confirm", login, new { code = "12ab56" }), HttpStatusCode.BadRequest, Problems.Validation);
        var wrong = Codes.At(secret) == "000000" ? "111111" : "000000";
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/mfa/totp/confirm", login, new { code = wrong }), HttpStatusCode.BadRequest, Problems.InvalidMfaCode);

        var codes = (await (await Api.SendAsync(HttpMethod.Post, "/auth/mfa/totp/confirm", login, new { code = Codes.At(secret) })).ReadAsync<RecoveryCodeSet>()).RecoveryCodes;
        Assert.Equal(10, codes.Distinct().Count());
        Assert.All(codes, c => Assert.Matches("^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$", c));
        var after = await FactorsAsync(login);
        Assert.True(after.Totp);
        Assert.Equal(10, after.RecoveryCodesLeft);
        // The QR code is only for an enrolment waiting for confirmation; a second enrolment must remove the first.
        await Problem.AssertAsync(await Api.GetAsync("/auth/mfa/totp/qr", login), HttpStatusCode.NotFound, Problems.NotFound);
    }

    [Fact]
    public async Task The_right_password_of_an_account_with_totp_answers_mfa_required_and_opens_no_session_until_the_code()
    {
        var user = await Fx.NewUserAsync();
        var first = await Api.LoginAsync(user);
        var totp = await Steps.EnrolTotpAsync(first);

        await Problem.AssertAsync(await Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = "wrong-password-123" }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        var challenge = await Steps.PasswordStepAsync(user);
        Assert.True(challenge.MfaToken!.Length >= 32);
        Assert.Equal(["totp", "recovery_code"], challenge.Methods!);
        Assert.InRange(challenge.ExpiresIn!.Value, 1, 300);
        Assert.Contains("/auth/login/mfa", challenge.Detail, StringComparison.Ordinal);

        // No session yet: the caller's list still has only the first one.
        Assert.Single(await SessionsAsync(first));

        var login = await ApiClient.ReadLoginAsync(await Steps.SecondStepAsync(challenge.MfaToken!, new { code = totp.Code(1) }));
        AssertAssurance(await Api.MeAsync(login), "aal2", ["pwd", "otp", "mfa"]);
        Assert.Equal(2, (await SessionsAsync(first)).Length);
        // The token is spent with its login.
        await Problem.AssertAsync(await Steps.SecondStepAsync(challenge.MfaToken!, new { code = totp.Code(1) }),
            HttpStatusCode.Unauthorized, Problems.InvalidMfaToken);
    }

    [Fact]
    public async Task A_totp_code_is_accepted_once()
    {
        var user = await Fx.NewUserAsync();
        var totp = await Steps.EnrolTotpAsync(await Api.LoginAsync(user));
        var token = (await Steps.PasswordStepAsync(user)).MfaToken!;
        // The code the enrolment was confirmed with (Code() would be a fresh one had a 30 s step begun meanwhile).
        await Problem.AssertAsync(await Steps.SecondStepAsync(token, new { code = totp.ConfirmedWith }), HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        var next = totp.Code(1);
        await ApiClient.ReadLoginAsync(await Steps.SecondStepAsync(token, new { code = next }));
        var again = (await Steps.PasswordStepAsync(user)).MfaToken!;
        await Problem.AssertAsync(await Steps.SecondStepAsync(again, new { code = next }), HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
    }

    [Fact]
    public async Task Five_wrong_codes_kill_the_mfa_token_and_count_as_failed_logins()
    {
        var user = await Fx.NewUserAsync();
        var totp = await Steps.EnrolTotpAsync(await Api.LoginAsync(user));
        var token = (await Steps.PasswordStepAsync(user)).MfaToken!;
        var right = totp.Code(1);
        var wrong = Enumerable.Range(0, 100).Select(i => (123456 + i * 7919 % 1000000).ToString("D6")).Where(c => c != right && c != totp.Code() && c != totp.Code(-1)).Take(5).ToList();
        foreach (var code in wrong)
            await Problem.AssertAsync(await Steps.SecondStepAsync(token, new { code }), HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        await Problem.AssertAsync(await Steps.SecondStepAsync(token, new { code = right }), HttpStatusCode.Unauthorized, Problems.InvalidMfaToken);

        var alice = await Fx.AliceAsync();
        var view = await (await Api.GetAsync($"/admin/users/{user.Id}", alice)).ReadAsync<UserDetail>();
        Assert.True(view.LoginLock.Failures >= 5, view.ToString());
        Assert.Equal(5, (await AuditAsync($"user_id={user.Id}&type=mfa.failed&size=50")).Items.Length);

        // Bad input is not a guess: 400, and nothing counted.
        var fresh = (await Steps.PasswordStepAsync(user)).MfaToken!;
        await Problem.AssertAsync(await Steps.SecondStepAsync(fresh, new { code = "12345" }), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Steps.SecondStepAsync(fresh, new { code = right, recovery_code = totp.RecoveryCodes[0] }), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Steps.SecondStepAsync(fresh, new { }), HttpStatusCode.BadRequest, Problems.Validation);
        await ApiClient.ReadLoginAsync(await Steps.SecondStepAsync(fresh, new { code = right }));
    }

    [Fact]
    public async Task The_mfa_token_is_bound_to_its_account()
    {
        var a = await Fx.NewUserAsync();
        var b = await Fx.NewUserAsync();
        await Steps.EnrolTotpAsync(await Api.LoginAsync(a));
        var totpB = await Steps.EnrolTotpAsync(await Api.LoginAsync(b));
        var tokenA = (await Steps.PasswordStepAsync(a)).MfaToken!;
        // B's valid code and B's recovery code do not open A's sign-in.
        await Problem.AssertAsync(await Steps.SecondStepAsync(tokenA, new { code = totpB.Code(1) }), HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        await Problem.AssertAsync(await Steps.SecondStepAsync(tokenA, new { recovery_code = totpB.RecoveryCodes[0] }), HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        // A changed first character, never the same one: a token that already starts with "x" would otherwise pass unchanged.
        await Problem.AssertAsync(await Steps.SecondStepAsync((tokenA[0] == 'x' ? "y" : "x") + tokenA[1..], new { code = totpB.Code(1) }), HttpStatusCode.Unauthorized, Problems.InvalidMfaToken);
        await Problem.AssertAsync(await Steps.SecondStepAsync("short", new { code = "123456" }), HttpStatusCode.BadRequest, Problems.Validation);
        // And B's code still works for B.
        await Steps.LoginWithTotpAsync(b, totpB);
    }

    [Fact]
    public async Task A_recovery_code_signs_in_once_and_a_new_set_kills_the_old()
    {
        var user = await Fx.NewUserAsync();
        var totp = await Steps.EnrolTotpAsync(await Api.LoginAsync(user));
        var code = totp.RecoveryCodes[3];
        var login = await ApiClient.ReadLoginAsync(await Steps.SecondStepAsync(
            (await Steps.PasswordStepAsync(user)).MfaToken!, new { recovery_code = code.ToUpperInvariant() }));
        AssertAssurance(await Api.MeAsync(login), "aal2", ["pwd", "otp", "mfa"]);
        await Problem.AssertAsync(await Steps.SecondStepAsync((await Steps.PasswordStepAsync(user)).MfaToken!, new { recovery_code = code }),
            HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        Assert.Equal(9, (await FactorsAsync(login)).RecoveryCodesLeft);

        var fresh = (await (await Api.SendAsync(HttpMethod.Post, "/auth/mfa/recovery-codes", login)).ReadAsync<RecoveryCodeSet>()).RecoveryCodes;
        Assert.Equal(10, fresh.Length);
        Assert.Empty(fresh.Intersect(totp.RecoveryCodes));
        await Problem.AssertAsync(await Steps.SecondStepAsync((await Steps.PasswordStepAsync(user)).MfaToken!, new { recovery_code = totp.RecoveryCodes[0] }),
            HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        await ApiClient.ReadLoginAsync(await Steps.SecondStepAsync((await Steps.PasswordStepAsync(user)).MfaToken!, new { recovery_code = fresh[0] }));

        Assert.Equal(2, (await AuditAsync($"user_id={user.Id}&type=mfa.recovery-code-used")).Items.Length);
    }

    [Fact]
    public async Task Step_up_raises_the_same_session_to_aal2_and_unlocks_the_sensitive_route()
    {
        var user = await Fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var totp = await Steps.EnrolTotpAsync(login);
        var sessionId = (await Api.MeAsync(login)).Session.Id;

        // The session predates the factor: aal1, so changing the factors needs a step-up.
        var refused = await Api.SendAsync(HttpMethod.Post, "/auth/mfa/recovery-codes", login);
        var problem = await Problem.AssertAsync(refused, HttpStatusCode.Unauthorized, Problems.StepUpRequired);
        Assert.Equal("aal2", problem.AcrValues);
        Assert.Equal(600L, problem.MaxAge);
        var challenge = refused.Headers.WwwAuthenticate.ToString();
        Assert.Contains("insufficient_user_authentication", challenge, StringComparison.Ordinal);
        Assert.Contains("acr_values=\"aal2\"", challenge, StringComparison.Ordinal);
        Assert.Contains("max_age=600", challenge, StringComparison.Ordinal);

        await Problem.AssertAsync((await Steps.StepUpAsync(login, new { code = "000000" == totp.Code(1) ? "111111" : "000000" })).Response,
            HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        await Problem.AssertAsync((await Steps.StepUpAsync(login, new { })).Response, HttpStatusCode.BadRequest, Problems.Validation);
        var (response, raised) = await Steps.StepUpAsync(login, new { code = totp.Code(1) });
        var body = await response.ReadAsync<StepUpAnswer>();
        Assert.Equal("aal2", body.Acr);
        Assert.InRange(body.AuthTime, DateTimeOffset.UtcNow.AddSeconds(-10), DateTimeOffset.UtcNow.AddSeconds(5));
        Assert.Equal(TMode.HasRefreshTokens, body.AccessToken is not null);
        Assert.Equal(TMode.HasRefreshTokens, body.RefreshToken is not null);

        var me = await Api.MeAsync(raised);
        Assert.Equal(sessionId, me.Session.Id); // no new session
        AssertAssurance(me, "aal2", ["pwd", "otp", "mfa"]);
        await (await Api.SendAsync(HttpMethod.Post, "/auth/mfa/recovery-codes", raised)).ReadAsync<RecoveryCodeSet>();
        if (TMode.SelfContainedAccessToken)
        {
            // The old access token still says aal1: it may do what aal1 may, not more.
            await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/mfa/recovery-codes", login), HttpStatusCode.Unauthorized, Problems.StepUpRequired);
            // A refresh (of the new pair) carries the raised assurance too.
            AssertAssurance(await Api.MeAsync(await Api.RefreshAsync(raised)), "aal2", ["pwd", "otp", "mfa"]);
        }
        if (TMode.HasRefreshTokens)
        {
            // The refresh token the client held before the step-up still works (no reuse, the session lives on), and
            // mints at the raised assurance.
            var refreshed = await Api.RefreshAsync(login);
            AssertAssurance(await Api.MeAsync(refreshed), "aal2", ["pwd", "otp", "mfa"]);
            Assert.Equal(sessionId, (await Api.MeAsync(raised)).Session.Id);
        }
        Assert.Single((await AuditAsync($"user_id={user.Id}&type=mfa.step-up")).Items);
    }

    [Fact]
    public async Task Step_up_without_a_factor_is_a_400_and_a_user_without_one_needs_no_step_up()
    {
        var user = await Fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        await Problem.AssertAsync((await Steps.StepUpAsync(login, new { code = "123456" })).Response, HttpStatusCode.BadRequest, Problems.Validation);
        var response = await Api.SendAsync(HttpMethod.Post, "/auth/password", login, new { current_password = user.Password, new_password = "a-new-long-password-" + Guid.NewGuid().ToString("N")[..6] });
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Removing_totp_returns_the_account_to_password_logins()
    {
        var user = await Fx.NewUserAsync();
        var totp = await Steps.EnrolTotpAsync(await Api.LoginAsync(user));
        var login = await Steps.LoginWithTotpAsync(user, totp);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, "/auth/mfa/totp", login)).StatusCode);
        Assert.True((await FactorsAsync(login)).None);
        AssertAssurance(await Api.MeAsync(await Api.LoginAsync(user)), "aal1", ["pwd"]);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, "/auth/mfa/totp", login), HttpStatusCode.NotFound, Problems.NotFound);
        Assert.Single((await AuditAsync($"user_id={user.Id}&type=mfa.totp-removed")).Items);
    }

    [Fact]
    public async Task No_secret_reaches_a_log_or_an_audit_detail_and_the_events_are_counted()
    {
        var user = await Fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var totp = await Steps.EnrolTotpAsync(login);
        var challenge = await Steps.PasswordStepAsync(user);
        var token = challenge.MfaToken!;
        await Steps.SecondStepAsync(token, new { code = totp.ConfirmedWith }); // a failure (reused), logged and audited
        await ApiClient.ReadLoginAsync(await Steps.SecondStepAsync(token, new { recovery_code = totp.RecoveryCodes[0] }));
        var (ceremony, options) = await Steps.CreationAsync((await Steps.StepUpAsync(login, new { recovery_code = totp.RecoveryCodes[1] })).Login);
        var challengeText = options.Challenge;

        var audit = await (await Api.GetAsync($"/admin/audit?user_id={user.Id}&size=100", await Fx.AliceAsync())).Content.ReadAsStringAsync();
        var logs = Fx.Logs.All;
        foreach (var secret in new[] { totp.Secret, token, ceremony, challengeText }.Concat(totp.RecoveryCodes).Concat(totp.RecoveryCodes.Select(c => c.Replace("-", ""))))
        {
            Assert.DoesNotContain(secret, logs, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(secret, audit, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Contains("mfa.totp-enrolled", audit, StringComparison.Ordinal);
        Assert.Contains("mfa.failed", audit, StringComparison.Ordinal);

        var metrics = await Api.Management.GetStringAsync("/metrics");
        Series(metrics, "sessiongate_mfa_events_total", "event=\"enrolled\"", "method=\"totp\"");
        Series(metrics, "sessiongate_mfa_events_total", "event=\"failed\"", "method=\"totp\"");
        Series(metrics, "sessiongate_mfa_events_total", "event=\"recovery-code-used\"", "method=\"recovery_code\"");
        Series(metrics, "sessiongate_logins_total", "result=\"mfa-required\"");
    }

    private static void Series(string exposition, string name, params string[] labels) =>
        Assert.True(exposition.Split('\n').Any(l => l.StartsWith(name + "{", StringComparison.Ordinal) && labels.All(x => l.Contains(x, StringComparison.Ordinal))),
            $"no {name} series with {string.Join(", ", labels)}");

    [Fact]
    public async Task Second_factor_endpoints_refuse_bad_input_with_400_and_anonymous_callers_with_401()
    {
        foreach (var (method, path) in new[] { ("GET", "/auth/mfa"), ("POST", "/auth/mfa/totp"), ("POST", "/auth/mfa/recovery-codes"), ("POST", "/auth/step-up"), ("POST", "/auth/passkeys/options") })
            await Problem.AssertAsync(await Api.SendAsync(new HttpMethod(method), path), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        var bad = new StringContent("{\"mfa_token\":", Encoding.UTF8, "application/json");
        await Problem.AssertAsync(await Api.Http.PostAsync("/auth/login/mfa", bad), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/login/mfa/options", body: new { mfa_token = "nope-nope-nope-nope-nope" }), HttpStatusCode.Unauthorized, Problems.InvalidMfaToken);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login/options", body: new { }), HttpStatusCode.BadRequest, Problems.Validation);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login", body: new { ceremony_id = "x" }), HttpStatusCode.BadRequest, Problems.Validation);
    }
}
