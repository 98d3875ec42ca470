using SessionGate.Auth;
using SessionGate.Observability;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>Signing in with a second factor or a passkey, and stepping up the current session.</summary>
public static class MfaLoginApi
{
    // POST /auth/login/mfa                 anonymous: finish a login with a code, a recovery code or a passkey
    // POST /auth/login/mfa/options         anonymous: passkey options for that step
    // POST /auth/passkeys/login/options    anonymous: passwordless sign-in, discoverable credential
    // POST /auth/passkeys/login            anonymous
    // POST /auth/step-up                   the caller's session: raise it to aal2 now
    // POST /auth/step-up/options           passkey options for that
    public static RouteGroupBuilder MapMfaLoginApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/auth").WithTags("Second factor");
        var anonymous = group.MapGroup("").AllowAnonymous().RequireRateLimiting(RateLimits.AuthPolicy);
        anonymous.MapPost("/login/mfa", CompleteLogin).WithName("LoginMfa")
            .WithSummary("Finish a login that answered mfa-required: the mfa_token with a code, a recovery code, or a passkey (ceremony_id and credential).")
            .ProducesProblems(400, Problems.Validation, Problems.NotSupportedInMode).ProducesProblems(401, Problems.InvalidMfaCode, Problems.InvalidMfaToken)
            .ProducesProblems(403, Problems.AccountBanned, Problems.SessionLimitReached).ProducesProblems(429, Problems.TooManyAttempts)
            .ProducesProblems(503, Problems.ServiceUnavailable);
        anonymous.MapPost("/login/mfa/options", LoginMfaOptions).WithName("LoginMfaPasskeyOptions")
            .WithSummary("Passkey options (PublicKeyCredentialRequestOptions, JSON form) for the second step of a login.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(401, Problems.InvalidMfaToken);
        anonymous.MapPost("/passkeys/login/options", PasskeyLoginOptions).WithName("PasskeyLoginOptions")
            .WithSummary("Start a passwordless sign-in in a tenant: options for a discoverable passkey with user verification.")
            .ProducesProblems(400, Problems.Validation);
        anonymous.MapPost("/passkeys/login", PasskeyLogin).WithName("PasskeyLogin")
            .WithSummary("Sign in with a passkey alone (user-verified: a full sign-in at aal2); answers like POST /auth/login.")
            .ProducesProblems(400, Problems.Validation, Problems.NotSupportedInMode).ProducesProblems(401, Problems.InvalidCredentials)
            .ProducesProblems(403, Problems.AccountBanned, Problems.SessionLimitReached).ProducesProblems(503, Problems.ServiceUnavailable);

        var me = group.MapGroup("").RequireAuthorization();
        me.MapPost("/step-up", StepUp).WithName("StepUp")
            .WithSummary("Raise the current session to aal2 now (new auth_time) with a code, a recovery code or a passkey; in the JWT modes it also answers a new token pair.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(401, Problems.InvalidMfaCode).ProducesProblems(429, Problems.TooManyAttempts);
        me.MapPost("/step-up/options", StepUpOptions).WithName("StepUpPasskeyOptions")
            .WithSummary("Passkey options for a step-up of the current session.").ProducesProblems(400, Problems.Validation);
        return group;
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> CompleteLogin(
        MfaLoginRequest? body, [AsParameters] SignIn signIn, MfaLogins logins, CancellationToken ct)
    {
        // Before the code is looked at: a wrong mode must not spend one of the mfa_token's attempts.
        if (signIn.Refuses(body, out var refusal)) return refusal;
        return await FinishAsync("login.mfa", signIn, body.CookieOnly == true, () => logins.CompleteAsync(body.MfaToken, body.Proof,
            ClientAddress.Of(signIn.Http), ClientNetwork.Of(signIn.Http), signIn.PresentedDevice(body.DeviceToken), signIn.UserAgent, ct));
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> PasskeyLogin(
        PasskeyLoginRequest? body, [AsParameters] SignIn signIn, MfaLogins logins, CancellationToken ct)
    {
        // Before the ceremony is spent, so the client may send the same answer again without cookie_only.
        if (signIn.Refuses(body, out var refusal)) return refusal;
        return await FinishAsync("login.passkey", signIn, body.CookieOnly == true, () => logins.PasskeyLoginAsync(body.CeremonyId, body.Credential,
            ClientAddress.Of(signIn.Http), signIn.PresentedDevice(), signIn.UserAgent, ct));
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> FinishAsync(
        string step, SignIn signIn, bool cookieOnly, Func<Task<MfaLoginOutcome>> complete)
    {
        using var activity = SessionGateTracing.Source.StartActivity(step);
        var outcome = await complete();
        activity?.SetTag("sessiongate.result", outcome.Result.ToString());
        signIn.Metrics.Login(outcome.Result switch
        {
            MfaLoginResult.Success => "success",
            MfaLoginResult.TooManyAttempts => "locked",
            MfaLoginResult.Banned => "banned",
            MfaLoginResult.SessionLimitReached => "limit-reached",
            MfaLoginResult.Malformed => "invalid",
            _ => "invalid-credentials",
        });
        signIn.RetryAfter(outcome.RetryAfter);
        switch (outcome.Result)
        {
            case MfaLoginResult.Success:
                return signIn.Opened(outcome.Credential!, outcome.DeviceToken!, cookieOnly);
            case MfaLoginResult.Malformed:
                return Problems.ValidationFailed(outcome.Detail ?? "The request is not valid.");
            case MfaLoginResult.WrongCode:
                return Problems.Result(401, Problems.InvalidMfaCode);
            case MfaLoginResult.InvalidToken:
                return Problems.Result(401, Problems.InvalidMfaToken);
            case MfaLoginResult.TooManyAttempts:
                return Problems.Result(429, Problems.TooManyAttempts);
            case MfaLoginResult.Banned:
                return Problems.Result(403, Problems.AccountBanned);
            case MfaLoginResult.SessionLimitReached:
                return Problems.Result(403, Problems.SessionLimitReached);
            default:
                return Problems.Result(401, Problems.InvalidCredentials);
        }
    }

    private static async Task<Results<Ok<CeremonyStart>, ProblemHttpResult>> LoginMfaOptions(
        MfaTokenRequest? body, MfaStore store, Passkeys passkeys, CancellationToken ct)
    {
        if (!MfaLogins.IsTokenShaped(body?.MfaToken)) return Problems.ValidationFailed("mfa_token is required.", "mfa_token");
        var pending = await store.GetLoginAsync(body!.MfaToken!);
        if (pending is null) return Problems.Result(401, Problems.InvalidMfaToken);
        var start = await passkeys.StartAssertionAsync(CeremonyPurpose.SecondFactor, pending.UserId, pending.TenantId, MfaStore.HashOf(body.MfaToken!), ct);
        return start is null ? Problems.ValidationFailed("This account has no passkey; use a code or a recovery code.") : TypedResults.Ok(start);
    }

    private static async Task<Results<Ok<CeremonyStart>, ProblemHttpResult>> PasskeyLoginOptions(
        PasskeyLoginOptionsRequest? body, Data.AppDbContext db, Passkeys passkeys, CancellationToken ct)
    {
        var slug = body?.Tenant?.Trim().ToLowerInvariant();
        if (string.IsNullOrEmpty(slug) || slug.Length > Limits.MaxName) return Problems.ValidationFailed("tenant is required.", "tenant");
        // An unknown tenant gets a ceremony too (bound to no tenant, so nothing can answer it): the answer does not tell.
        var tenantId = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.FirstOrDefaultAsync(
            db.Tenants.Where(t => t.Slug == slug).Select(t => (Guid?)t.Id), ct);
        return TypedResults.Ok((await passkeys.StartAssertionAsync(CeremonyPurpose.Login, null, tenantId, null, ct))!);
    }

    private static async Task<Results<Ok<StepUpResponse>, ProblemHttpResult>> StepUp(
        StepUpRequest? body, ClaimsPrincipal user, HttpContext http, StepUps stepUps, TimeProvider time, CancellationToken ct)
    {
        if (body is null) return Problems.ValidationFailed("A JSON body is required.");
        using var activity = SessionGateTracing.Source.StartActivity("step-up");
        var outcome = await stepUps.StepUpAsync(user, body.Proof, ClientAddress.Of(http), ClientNetwork.Of(http), DeviceTokens.Presented(http, null), ct);
        activity?.SetTag("sessiongate.result", outcome.Result.ToString());
        if (outcome.RetryAfter is { } retry) http.Response.SetRetryAfter(retry);
        return outcome.Result switch
        {
            StepUpResult.Raised => TypedResults.Ok(StepUpResponse.From(outcome.Assurance!, outcome.Credential, time.GetUtcNow())),
            StepUpResult.Malformed or StepUpResult.NoFactor => Problems.ValidationFailed(outcome.Detail ?? "The request is not valid."),
            StepUpResult.TooManyAttempts => Problems.Result(429, Problems.TooManyAttempts),
            StepUpResult.SessionEnded => Problems.Result(401, Problems.Unauthenticated),
            _ => Problems.Result(401, Problems.InvalidMfaCode),
        };
    }

    private static async Task<Results<Ok<CeremonyStart>, ProblemHttpResult>> StepUpOptions(ClaimsPrincipal user, Passkeys passkeys, CancellationToken ct)
    {
        var start = await passkeys.StartAssertionAsync(CeremonyPurpose.StepUp, user.UserId(), user.TenantIdOf(), StepUps.Binding(user.SessionIdOf()), ct);
        return start is null ? Problems.ValidationFailed("You have no passkey; step up with a code or a recovery code.") : TypedResults.Ok(start);
    }
}
