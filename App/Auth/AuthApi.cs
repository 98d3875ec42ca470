using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Observability;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>Self-service: login, refresh, logout, me, own sessions and password.</summary>
public static class AuthApi
{
    public static RouteGroupBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/auth").WithTags("Auth");

        // POST /auth/login             anonymous
        // POST /auth/refresh           anonymous (JWT modes)
        // POST /auth/logout            the caller's session
        // POST /auth/logout-all        all the caller's sessions
        // GET  /auth/me
        // GET  /auth/sessions
        // DELETE /auth/sessions/{id}
        // POST /auth/password
        // The per-address request limit guards the anonymous endpoints only: polling /auth/me must not block logins.
        group.MapPost("/login", Login).AllowAnonymous().RequireRateLimiting(RateLimits.AuthPolicy).WithName("Login")
            .WithSummary("Log in; Opaque mode returns a session id (and cookie), the JWT modes an access and a refresh token.")
            .WithDescription("An account with a second factor answers 401 mfa-required with an mfa_token: finish with POST /auth/login/mfa (or sign in at /account). "
                + "Browsers (Opaque) send \"cookie_only\": true: the session is then the HttpOnly cookie alone, and the body carries no session_id (nor device_token).")
            .ProducesProblems(400, Problems.Validation, Problems.NotSupportedInMode).ProducesProblems(401, Problems.InvalidCredentials, Problems.MfaRequired)
            .ProducesProblems(403, Problems.AccountBanned, Problems.SessionLimitReached)
            .ProducesProblems(429, Problems.TooManyAttempts).ProducesProblems(503, Problems.ServiceUnavailable)
            .WithProblemExample(Problems.Validation, "tenant is required.")
            // Never a made-up password: a wrong one counts as a failed attempt. With the demo data seeded, the demo
            // user; otherwise an empty password, which is refused as invalid (400) without counting.
            .WithRequestExample(services => new
            {
                tenant = "acme",
                username = "bob",
                password = services.GetRequiredService<IOptions<DemoOptions>>().Value is { Seed: true, Password: { Length: > 0 } password } ? password : "",
                device_type = "web",
            });
        group.MapPost("/refresh", Refresh).AllowAnonymous().RequireRateLimiting(RateLimits.AuthPolicy).WithName("Refresh")
            .WithSummary("Rotate a refresh token (JWT modes). Reusing a spent one revokes its whole family.")
            .ProducesProblems(400, Problems.NotSupportedInMode).ProducesProblems(401, Problems.InvalidRefreshToken)
            .ProducesProblems(503, Problems.ServiceUnavailable)
            .WithRequestExample(new { refresh_token = "the refresh_token from POST /auth/login" });

        // Anonymous on purpose: a JWT client whose access token expired logs out with its refresh token alone.
        group.MapPost("/logout", Logout).AllowAnonymous().WithMetadata(CredentialOptional.Instance).RequireRateLimiting(RateLimits.AuthPolicy).WithName("Logout")
            .WithSummary("End the current session; in the JWT modes also with {\"refresh_token\"} alone (no access token).")
            .WithDescription("With a valid credential (cookie or bearer) the caller's session ends and the body is ignored. Without one, in the JWT modes, "
                + "the session of the refresh token in the body ends. An unknown, spent or expired refresh token is 401 invalid-refresh-token (a spent one, "
                + "as on refresh, also ends its family); no credential at all is 401 unauthenticated; a refresh token in Opaque mode is 400 not-supported-in-mode.")
            .WithMetadata(RefreshTokenLogout.Body).CapturesAuditContext()
            .ProducesProblems(400, Problems.Validation, Problems.NotSupportedInMode)
            .ProducesProblems(401, Problems.InvalidRefreshToken);

        var me = group.MapGroup("").RequireAuthorization().CapturesAuditContext();
        me.MapPost("/logout-all", LogoutAll).WithName("LogoutAll").WithSummary("End all of the caller's sessions, the current one included.");
        me.MapGet("/me", Me).WithName("Me").WithSummary("Who is calling, with roles, permissions and the session.");
        me.MapGet("/sessions", ListSessions).WithName("ListOwnSessions").WithSummary("The caller's live sessions.");
        me.MapDelete("/sessions/{id:guid}", EndSession).WithName("EndOwnSession").WithSummary("End one of the caller's own sessions.")
            .ProducesProblems(404, Problems.NotFound);
        me.MapPost("/password", ChangePassword).WithName("ChangePassword").WithSummary("Change the password; the caller's other sessions end.")
            .ProducesProblems(400, Problems.Validation, Problems.WeakPassword).ProducesProblems(403, Problems.InvalidCredentials)
            .ProducesProblems(429, Problems.TooManyAttempts)
            .WithProblemExample(Problems.Validation, "current_password and new_password are required.")
            // The current password is left for you to type: a wrong one counts against your account.
            .WithRequestExample(new { current_password = "", new_password = "a-longer-passphrase-of-yours" })
            .RequireStepUp(policyCounts: false);
        return group;
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> Login(
        LoginRequest? body, [AsParameters] SignIn signIn, LoginService login, CancellationToken ct)
    {
        if (signIn.Refuses(body, out var refusal)) return refusal;
        using var activity = SessionGateTracing.Source.StartActivity("login");
        LoginOutcome outcome;
        try
        {
            outcome = await login.LoginAsync(body, ClientNetwork.Of(signIn.Http), signIn.PresentedDevice(body.DeviceToken), signIn.UserAgent, ct);
        }
        catch (Exception e) when (e is PasswordHashingBusyException || DependencyHealth.IsPostgresFailure(e) || DependencyHealth.IsRedisFailure(e))
        {
            signIn.Metrics.Login("unavailable");
            throw;
        }
        var result = outcome.Result switch
        {
            LoginResult.Success => "success",
            LoginResult.InvalidCredentials => "invalid-credentials",
            LoginResult.TooManyAttempts => "locked",
            LoginResult.Banned => "banned",
            LoginResult.SessionLimitReached => "limit-reached",
            LoginResult.MfaRequired => "mfa-required",
            _ => "invalid",
        };
        signIn.Metrics.Login(result);
        activity?.SetTag("sessiongate.result", result);
        signIn.RetryAfter(outcome.RetryAfter);
        switch (outcome.Result)
        {
            case LoginResult.Success:
                return signIn.Opened(outcome.Credential!, outcome.DeviceToken!, body.CookieOnly == true);
            case LoginResult.Invalid:
                return Problems.ValidationFailed(outcome.Detail ?? "The request is not valid.");
            case LoginResult.TooManyAttempts:
                return Problems.Result(StatusCodes.Status429TooManyRequests, Problems.TooManyAttempts);
            case LoginResult.Banned:
                return Problems.Result(StatusCodes.Status403Forbidden, Problems.AccountBanned);
            case LoginResult.SessionLimitReached:
                return Problems.Result(StatusCodes.Status403Forbidden, Problems.SessionLimitReached);
            case LoginResult.MfaRequired:
                // No session yet: the second step (Mfa/MfaLoginApi) finishes it.
                var mfa = outcome.Mfa!;
                return Problems.Result(StatusCodes.Status401Unauthorized, Problems.MfaRequired,
                    "The password is right; this account has a second factor. POST /auth/login/mfa with this mfa_token and a code (or recovery_code, or a passkey), or sign in at /account.",
                    new Dictionary<string, object?> { ["mfa_token"] = mfa.MfaToken, ["methods"] = mfa.Methods, ["expires_in"] = (int)mfa.ExpiresIn.TotalSeconds });
            default:
                // Said on the request's one log line (the tenant only: never the user name, which may be a mistyped password).
                RequestLog.Note(signIn.Http, "invalid-credentials in tenant " + LogText.Safe(body.Tenant ?? ""));
                return Problems.Result(StatusCodes.Status401Unauthorized, Problems.InvalidCredentials);
        }
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> Refresh(
        RefreshRequest? body, HttpContext http, RefreshService refresh, TimeProvider time, SessionGateMetrics metrics, CancellationToken ct)
    {
        using var activity = SessionGateTracing.Source.StartActivity("refresh");
        var outcome = await refresh.RotateAsync(body?.RefreshToken ?? "", ClientAddress.Of(http), ct);
        if (outcome.Result != RefreshService.Result.NotSupported) metrics.Refresh(outcome.Result == RefreshService.Result.Rotated ? "rotated" : "invalid");
        activity?.SetTag("sessiongate.result", outcome.Result.ToString());
        return outcome.Result switch
        {
            RefreshService.Result.Rotated => TypedResults.Ok(LoginResponse.From(outcome.Credential!, time.GetUtcNow())),
            RefreshService.Result.NotSupported => Problems.Result(400, Problems.NotSupportedInMode, "Opaque sessions do not use refresh tokens."),
            _ => Problems.Result(401, Problems.InvalidRefreshToken),
        };
    }

    private static async Task<Results<NoContent, ProblemHttpResult, ChallengeHttpResult>> Logout(
        [AsParameters] SelfService me, RefreshService refresh, IAuthMode mode, CancellationToken ct)
    {
        if (me.User.Identity?.IsAuthenticated != true) return await RefreshTokenLogout.EndAsync(me.Http, refresh, mode, ct);
        var (userId, sessionId) = (me.UserId, me.User.SessionIdOf());
        await me.Sessions.ChangeAsync(async change =>
        {
            me.Audit.Record(AuditTypes.Logout, userId, new { session_id = sessionId });
            var ended = await change.RevokeAsync(s => s.Id == sessionId && s.UserId == userId, RevokeReasons.LoggedOut, ct);
            // A retry of a logout whose Redis write was lost: the session ended already, so say so again.
            return ended > 0 ? ended : await change.RemirrorAsync(s => s.Id == sessionId && s.UserId == userId, ct);
        }, ct);
        return me.SignedOut();
    }

    private static async Task<NoContent> LogoutAll([AsParameters] SelfService me, CancellationToken ct)
    {
        var userId = me.UserId;
        await me.Sessions.ChangeAsync(async change =>
        {
            var ended = await change.EndAllAsync(userId, RevokeReasons.LoggedOut, ct);
            me.Audit.Record(AuditTypes.LogoutAll, userId, new { sessions = ended });
            return ended;
        }, ct);
        return me.SignedOut();
    }

    private static Ok<MeResponse> Me(ClaimsPrincipal user)
    {
        var assurance = user.AssuranceOf();
        return TypedResults.Ok(new MeResponse(
            user.UserId(),
            user.FindFirstValue(SessionClaims.Tenant)!,
            user.FindFirstValue(SessionClaims.Name)!,
            user.RolesOf(),
            user.PermissionsOf(),
            new MeSession(
                user.SessionIdOf(),
                user.FindFirstValue(SessionClaims.Device)!,
                DateTimeOffset.FromUnixTimeSeconds(long.Parse(user.FindFirstValue(SessionClaims.CreatedAt)!)),
                DateTimeOffset.FromUnixTimeSeconds(long.Parse(user.FindFirstValue(SessionClaims.ExpiresAt)!)),
                assurance.Acr, assurance.Amr, assurance.AuthTime)));
    }

    private static async Task<Ok<List<OwnSession>>> ListSessions(ClaimsPrincipal user, AppDbContext db, TimeProvider time, CancellationToken ct)
    {
        var (userId, current) = (user.UserId(), user.SessionIdOf());
        var list = await db.Sessions.AsNoTracking()
            .Where(s => s.UserId == userId).Where(SessionReader.IsLive(time.GetUtcNow()))
            .OrderByDescending(s => s.CreatedAt).Take(200)
            .Select(s => new OwnSession(s.Id, s.DeviceType, s.CreatedAt, s.LastSeenAt, s.Ip, s.UserAgent, s.Id == current))
            .ToListAsync(ct);
        return TypedResults.Ok(list);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> EndSession(
        [Description("The session's public id (from GET /auth/sessions).")] Guid id, [AsParameters] SelfService me,
        TimeProvider time, CancellationToken ct)
    {
        var userId = me.UserId;
        var now = time.GetUtcNow();
        var ended = await me.Sessions.ChangeAsync(async change =>
        {
            var n = await change.RevokeAsync(s => s.Id == id && s.UserId == userId && s.IdleExpiresAt > now && s.AbsoluteExpiresAt > now, RevokeReasons.LoggedOut, ct);
            var type = n > 0 ? AuditTypes.Logout : AuditTypes.SessionEndRetried;
            // A retry: the session ended already (its Redis write may have been lost), so announce it again.
            if (n == 0) n = await change.RemirrorAsync(s => s.Id == id && s.UserId == userId, ct);
            if (n > 0) me.Audit.Record(type, userId, new { session_id = id });
            return n;
        }, ct);
        return ended == 0 ? Problems.NotFoundResult() : TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ChangePassword(
        ChangePasswordRequest? body, [AsParameters] SelfService me, AppDbContext db, PasswordPolicy passwords, CurrentPassword currentPassword,
        CancellationToken ct)
    {
        if (body is null || string.IsNullOrEmpty(body.CurrentPassword) || string.IsNullOrEmpty(body.NewPassword))
            return Problems.ValidationFailed("current_password and new_password are required.");
        if (body.CurrentPassword.Length > Limits.MaxPassword || body.NewPassword.Length > Limits.MaxPassword)
            return Problems.ValidationFailed("The password is too long.");
        var (user, http, userId) = (me.User, me.Http, me.UserId);
        var entity = await db.Users.AsNoTracking().FirstOrDefaultAsync(u => u.Id == userId, ct);
        if (entity is null) return Problems.Result(401, Problems.Unauthenticated);
        if (PasswordPolicy.Weakness(body.NewPassword, entity.Username) is { } weakness)
            return Problems.Result(400, Problems.WeakPassword, weakness);

        // A stolen session must not become a password oracle, nor let its thief block the owner's device.
        var check = await currentPassword.CheckAsync(http, entity, LoginService.Account(user.FindFirstValue(SessionClaims.Tenant)!, entity.NormalizedUsername), body.CurrentPassword, body.DeviceToken, ct);
        if (check.RetryAfter is { } retry)
        {
            http.Response.SetRetryAfter(retry);
            return Problems.Result(StatusCodes.Status429TooManyRequests, Problems.TooManyAttempts);
        }
        if (!check.Right)
        {
            me.Audit.Record(AuditTypes.PasswordChangeFailed, userId);
            await db.SaveChangesAsync(ct);
            return Problems.Result(403, Problems.InvalidCredentials);
        }
        var verifiedHash = entity.PasswordHash;
        var newHash = await passwords.HashAsync(entity, body.NewPassword, HashingLane.SignedIn(userId), ct);
        var current = user.SessionIdOf();
        var changed = await me.Sessions.ChangeAsync(async change =>
        {
            // Under the row lock: a concurrent change of the password wins, and this one is refused.
            var locked = await change.LockUserAsync(userId, ct);
            if (locked is null || locked.PasswordHash != verifiedHash) return change.Cancel(false);
            await db.Users.Where(u => u.Id == userId).ExecuteUpdateAsync(u => u.SetProperty(x => x.PasswordHash, newHash), ct);
            me.Audit.Record(AuditTypes.PasswordChanged, userId);
            await change.RevokeAsync(s => s.UserId == userId && s.Id != current, RevokeReasons.PasswordChanged, ct);
            return true;
        }, ct);
        return changed ? TypedResults.NoContent() : Problems.Result(403, Problems.InvalidCredentials);
    }

}
