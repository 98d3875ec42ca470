using System.Net;
using SessionGate.Infrastructure;
using SessionGate.Tests.AdminConsole;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Mfa;

public sealed class PasskeyTests_Opaque(AppFixture<Opaque> fx, ITestOutputHelper o) : PasskeyTests<Opaque>(fx, o), IClassFixture<AppFixture<Opaque>>;
public sealed class PasskeyTests_Blacklist(AppFixture<Blacklist> fx, ITestOutputHelper o) : PasskeyTests<Blacklist>(fx, o), IClassFixture<AppFixture<Blacklist>>;
public sealed class PasskeyTests_SessionCache(AppFixture<SessionCache> fx, ITestOutputHelper o) : PasskeyTests<SessionCache>(fx, o), IClassFixture<AppFixture<SessionCache>>;

/// <summary>Passkeys over HTTP with a software authenticator, judged by the server's real WebAuthn verification; every mode.</summary>
public abstract class PasskeyTests<TMode> where TMode : IMode
{
    protected readonly AppFixture<TMode> Fx;
    protected ApiClient Api => Fx.Api;
    protected readonly MfaSteps Steps;

    protected PasskeyTests(AppFixture<TMode> fx, ITestOutputHelper output)
    {
        Fx = fx;
        fx.Attach(output);
        Steps = new MfaSteps(fx.Api);
    }

    [Fact]
    public async Task A_registered_passkey_is_listed_named_and_asked_for_after_the_password()
    {
        var user = await Fx.NewUserAsync();
        var login = await Api.LoginAsync(user);
        var key = new SoftAuthenticator();
        var (ceremony, options) = await Steps.CreationAsync(login);
        // The relying party is configuration, whatever Host the request names (any Host AllowedHosts lets through).
        var spoofed = await Steps.CreationAsync(login, r => r.Headers.Host = "127.0.0.1");
        Assert.Equal("localhost", spoofed.Options.Rp.Id);
        Assert.Equal("localhost", options.Rp.Id);
        Assert.Equal("none", options.Attestation);
        Assert.Equal("required", options.AuthenticatorSelection!.ResidentKey);
        Assert.Equal("required", options.AuthenticatorSelection.UserVerification);
        Assert.Equal(32, Microsoft.AspNetCore.WebUtilities.WebEncoders.Base64UrlDecode(options.Challenge).Length);

        var created = await (await Api.SendAsync(HttpMethod.Post, "/auth/passkeys", login,
            new { ceremony_id = ceremony, credential = key.Create(options), name = "Laptop" })).ReadAsync<PasskeyCreated>(HttpStatusCode.Created);
        Assert.Equal("Laptop", created.Name);
        // The session predates the passkey: another one needs a step-up first. Then the spent ceremony is refused.
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys", login, new { ceremony_id = ceremony, credential = key.Create(options) }),
            HttpStatusCode.Unauthorized, Problems.StepUpRequired);
        key.Credentials.RemoveAt(1);
        var (stepUp, stepUpOptions) = await Steps.OptionsAsync("/auth/step-up/options", login);
        var (_, raised) = await Steps.StepUpAsync(login, MfaSteps.PasskeyProof(stepUp, key.Get(stepUpOptions)));
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys", raised, new { ceremony_id = ceremony, credential = key.Create(options) }),
            HttpStatusCode.BadRequest, Problems.InvalidMfaCode);
        key.Credentials.RemoveAt(1);
        login = raised;

        var mine = await (await Api.GetAsync("/auth/mfa", login)).ReadAsync<MfaFactors>();
        var listed = Assert.Single(mine.Passkeys);
        Assert.Equal((created.Id, created.Name), (listed.Id, listed.Name));
        Assert.NotNull(listed.LastUsedAt); // by the step-up

        var challenge = await Steps.PasswordStepAsync(user);
        Assert.Equal(["passkey"], challenge.Methods!);
        var token = challenge.MfaToken!;
        var (mfaCeremony, mfaOptions) = await Steps.OptionsAsync("/auth/login/mfa/options", null, new { mfa_token = token });
        Assert.Equal(key.Credentials[0].IdText, Assert.Single(mfaOptions.AllowCredentials!).Id);
        var second = await ApiClient.ReadLoginAsync(await Steps.SecondStepAsync(token, MfaSteps.PasskeyProof(mfaCeremony, key.Get(mfaOptions, userVerified: false))));
        var me = await Api.MeAsync(second);
        Assert.Equal("aal2", me.Session.Acr);
        Assert.Equal(["pwd", "hwk", "mfa"], me.Session.Amr);
        Assert.NotNull(Assert.Single((await (await Api.GetAsync("/auth/mfa", second)).ReadAsync<MfaFactors>()).Passkeys).LastUsedAt);
    }

    [Fact]
    public async Task A_user_verified_passkey_signs_in_alone_at_aal2_and_without_verification_it_does_not()
    {
        var user = await Fx.NewUserAsync();
        var key = new SoftAuthenticator();
        await Steps.RegisterPasskeyAsync(await Api.LoginAsync(user), key);

        var (ceremony, options) = await Steps.OptionsAsync("/auth/passkeys/login/options", null, new { tenant = "acme" });
        Assert.Empty(options.AllowCredentials!); // discoverable: the authenticator picks
        Assert.Equal("required", options.UserVerification);
        var login = await ApiClient.ReadLoginAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login", body: new { ceremony_id = ceremony, credential = key.Get(options) }));
        var me = await Api.MeAsync(login);
        Assert.Equal(user.Id, me.UserId);
        Assert.Equal("aal2", me.Session.Acr);
        Assert.Equal(["hwk", "mfa"], me.Session.Amr);

        var (again, againOptions) = await Steps.OptionsAsync("/auth/passkeys/login/options", null, new { tenant = "acme" });
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login", body: new { ceremony_id = again, credential = key.Get(againOptions, userVerified: false) }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);

        // In another tenant the same passkey signs in to nothing; an unknown tenant answers just the same.
        var other = await Fx.NewTenantAsync();
        foreach (var tenant in new[] { other, "no-such-tenant" })
        {
            var (c, o) = await Steps.OptionsAsync("/auth/passkeys/login/options", null, new { tenant });
            await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login", body: new { ceremony_id = c, credential = key.Get(o) }),
                HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        }
    }

    [Fact]
    public async Task Replayed_assertions_stale_counters_foreign_origins_and_spent_ceremonies_are_refused()
    {
        var user = await Fx.NewUserAsync();
        var key = new SoftAuthenticator();
        await Steps.RegisterPasskeyAsync(await Api.LoginAsync(user), key);
        async Task<HttpResponseMessage> Passwordless(Func<RequestOptions, object> answer)
        {
            var (c, o) = await Steps.OptionsAsync("/auth/passkeys/login/options", null, new { tenant = "acme" });
            return await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login", body: new { ceremony_id = c, credential = answer(o) });
        }

        // The same assertion twice: the ceremony is spent.
        var (ceremony, options) = await Steps.OptionsAsync("/auth/passkeys/login/options", null, new { tenant = "acme" });
        var assertion = key.Get(options);
        await ApiClient.ReadLoginAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login", body: new { ceremony_id = ceremony, credential = assertion }));
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Post, "/auth/passkeys/login", body: new { ceremony_id = ceremony, credential = assertion }),
            HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        // A counter that does not move forward (a cloned authenticator), another origin, another ceremony's challenge.
        var counter = key.Credentials[0].Counter;
        await Problem.AssertAsync(await Passwordless(o => key.Get(o, counter: counter)), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        await Problem.AssertAsync(await Passwordless(o => key.Get(o, origin: "http://evil.localhost:8080")), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        var (_, stale) = await Steps.OptionsAsync("/auth/passkeys/login/options", null, new { tenant = "acme" });
        await Problem.AssertAsync(await Passwordless(_ => key.Get(stale)), HttpStatusCode.Unauthorized, Problems.InvalidCredentials);
        // And the genuine one still works.
        await ApiClient.ReadLoginAsync(await Passwordless(o => key.Get(o)));
    }

    [Fact]
    public async Task Another_users_passkey_neither_completes_a_login_nor_steps_up_a_session()
    {
        var alice = await Fx.NewUserAsync();
        var bob = await Fx.NewUserAsync();
        var aliceKey = new SoftAuthenticator();
        var bobKey = new SoftAuthenticator();
        await Steps.RegisterPasskeyAsync(await Api.LoginAsync(alice), aliceKey);
        var bobLogin = await Api.LoginAsync(bob);
        await Steps.RegisterPasskeyAsync(bobLogin, bobKey);

        var token = (await Steps.PasswordStepAsync(bob)).MfaToken!;
        var (c1, o1) = await Steps.OptionsAsync("/auth/login/mfa/options", null, new { mfa_token = token });
        await Problem.AssertAsync(await Steps.SecondStepAsync(token, MfaSteps.PasskeyProof(c1, aliceKey.Get(o1, aliceKey.Credentials[0]))),
            HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);

        var (c2, o2) = await Steps.OptionsAsync("/auth/step-up/options", bobLogin);
        await Problem.AssertAsync((await Steps.StepUpAsync(bobLogin, MfaSteps.PasskeyProof(c2, aliceKey.Get(o2, aliceKey.Credentials[0])))).Response,
            HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        // A step-up ceremony is bound to its session: another session of bob cannot answer it.
        var (c3, o3) = await Steps.OptionsAsync("/auth/step-up/options", bobLogin);
        var t = (await Steps.PasswordStepAsync(bob)).MfaToken!;
        var (c5, o5) = await Steps.OptionsAsync("/auth/login/mfa/options", null, new { mfa_token = t });
        var otherSession = await ApiClient.ReadLoginAsync(await Steps.SecondStepAsync(t, MfaSteps.PasskeyProof(c5, bobKey.Get(o5))));
        await Problem.AssertAsync((await Steps.StepUpAsync(otherSession, MfaSteps.PasskeyProof(c3, bobKey.Get(o3)))).Response,
            HttpStatusCode.Unauthorized, Problems.InvalidMfaCode);
        // Bob's own passkey on his own session does.
        var (c4, o4) = await Steps.OptionsAsync("/auth/step-up/options", bobLogin);
        var (raised, _) = await Steps.StepUpAsync(bobLogin, MfaSteps.PasskeyProof(c4, bobKey.Get(o4)));
        Assert.Equal("aal2", (await raised.ReadAsync<StepUpAnswer>()).Acr);
    }

    [Fact]
    public async Task Passkeys_are_removed_only_by_their_owner_and_the_last_one_takes_the_recovery_codes()
    {
        var user = await Fx.NewUserAsync();
        var other = await Fx.NewUserAsync();
        var key = new SoftAuthenticator();
        var login = await Api.LoginAsync(user);
        var id = await Steps.RegisterPasskeyAsync(login, key, "phone");
        var otherLogin = await Api.LoginAsync(other);
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/auth/passkeys/{id}", otherLogin), HttpStatusCode.NotFound, Problems.NotFound);

        // The session predates the passkey: removing it needs a step-up, here with the passkey itself.
        await Problem.AssertAsync(await Api.SendAsync(HttpMethod.Delete, $"/auth/passkeys/{id}", login), HttpStatusCode.Unauthorized, Problems.StepUpRequired);
        var (c, o) = await Steps.OptionsAsync("/auth/step-up/options", login);
        var (_, raised) = await Steps.StepUpAsync(login, MfaSteps.PasskeyProof(c, key.Get(o)));
        var codes = await (await Api.SendAsync(HttpMethod.Post, "/auth/mfa/recovery-codes", raised)).ReadAsync<RecoveryCodeSet>();
        Assert.Equal(10, codes.RecoveryCodes.Length);
        Assert.Equal(HttpStatusCode.NoContent, (await Api.SendAsync(HttpMethod.Delete, $"/auth/passkeys/{id}", raised)).StatusCode);
        Assert.True((await (await Api.GetAsync("/auth/mfa", raised)).ReadAsync<MfaFactors>()).None);
        var audit = await (await Api.GetAsync($"/admin/audit?user_id={user.Id}&size=50", await Fx.AliceAsync())).ReadAsync<Paged<AuditEntry>>();
        Assert.Contains(audit.Items, e => e.Type == "mfa.passkey-added");
        Assert.Contains(audit.Items, e => e.Type == "mfa.passkey-removed");
    }
}
