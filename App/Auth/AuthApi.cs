using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Admin;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>Self-service: login, refresh, logout, me, own sessions and password.</summary>
public static class AuthApi
{
    public static RouteGroupBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/auth").WithTags("Auth").RequireRateLimiting(RateLimits.AuthPolicy);

        // POST /auth/login             anonymous
        // POST /auth/refresh           anonymous (JWT modes)
        // POST /auth/logout            the caller's session
        // POST /auth/logout-all        all the caller's sessions
        // GET  /auth/me
        // GET  /auth/sessions
        // DELETE /auth/sessions/{id}
        // POST /auth/password
        group.MapPost("/login", Login).AllowAnonymous().WithName("Login")
            .WithSummary("Log in; Opaque mode returns a session id (and cookie), the JWT modes an access and a refresh token.")
            .ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(429);
        group.MapPost("/refresh", Refresh).AllowAnonymous().WithName("Refresh")
            .WithSummary("Rotate a refresh token (JWT modes). Reusing a spent one revokes its whole family.")
            .ProducesProblem(400).ProducesProblem(401);

        var me = group.MapGroup("").RequireAuthorization().ProducesProblem(401);
        me.MapPost("/logout", Logout).WithName("Logout").WithSummary("End the current session.");
        me.MapPost("/logout-all", LogoutAll).WithName("LogoutAll").WithSummary("End all of the caller's sessions, the current one included.");
        me.MapGet("/me", Me).WithName("Me").WithSummary("Who is calling, with roles, permissions and the session.");
        me.MapGet("/sessions", ListSessions).WithName("ListOwnSessions").WithSummary("The caller's live sessions.");
        me.MapDelete("/sessions/{id:guid}", EndSession).WithName("EndOwnSession").WithSummary("End one of the caller's own sessions.");
        me.MapPost("/password", ChangePassword).WithName("ChangePassword").WithSummary("Change the password; the caller's other sessions end.");
        return group;
    }

    public static RouteGroupBuilder MapSampleApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Sample API").RequireAuthorization().ProducesProblem(401).ProducesProblem(403);
        group.MapGet("/profile", (ClaimsPrincipal user) => TypedResults.Ok(new ProfileResponse(
            user.UserId(), user.FindFirstValue(SessionClaims.Name)!, user.FindFirstValue(SessionClaims.Tenant)!, user.RolesOf())))
            .WithName("Profile").WithSummary("Any authenticated caller.");
        group.MapGet("/reports", (ClaimsPrincipal user) => TypedResults.Ok(new ReportsResponse(
            user.FindFirstValue(SessionClaims.Tenant)!, ["sessions-by-device", "logins-per-day"])))
            .RequireAuthorization(Permissions.ReportsRead)
            .WithName("Reports").WithSummary("Needs permission reports:read.");
        return group;
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> Login(
        LoginRequest? body, HttpContext http, LoginService login, IOptions<SessionLifetimeOptions> options, CancellationToken ct)
    {
        if (body is null) return Problems.ValidationFailed("A JSON body is required.");
        var outcome = await login.LoginAsync(body, ClientIp(http), UserAgent(http), ct);
        if (outcome.Credential is null)
        {
            if (outcome.RetryAfter is { } retry)
                http.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, retry.TotalSeconds))).ToString();
            return Problems.Result(outcome.Status, outcome.ErrorType!, outcome.Detail);
        }
        WriteCookie(http, options.Value, outcome.Credential);
        return TypedResults.Ok(outcome.Credential.Body);
    }

    private static async Task<Results<Ok<LoginResponse>, ProblemHttpResult>> Refresh(
        RefreshRequest? body, HttpContext http, IAuthMode mode, CancellationToken ct)
    {
        var outcome = await mode.RefreshAsync(body?.RefreshToken ?? "", ClientIp(http), ct);
        if (outcome.Credential is not null) return TypedResults.Ok(outcome.Credential.Body);
        return outcome.ErrorType == Problems.NotSupportedInMode
            ? Problems.Result(400, Problems.NotSupportedInMode, "Opaque sessions do not use refresh tokens.")
            : Problems.Result(401, Problems.InvalidRefreshToken);
    }

    private static async Task<NoContent> Logout(ClaimsPrincipal user, HttpContext http, SessionService sessions, AuditLog audit,
        IOptions<SessionLifetimeOptions> options, CancellationToken ct)
    {
        var (userId, sessionId) = (user.UserId(), user.SessionIdOf());
        await sessions.RevokeAsync(s => s.Id == sessionId && s.UserId == userId, RevokeReasons.LoggedOut, ct);
        await audit.WriteAsync(AuditTypes.Logout, userId, userId, user.TenantIdOf(), ClientIp(http), new { session_id = sessionId }, ct);
        ClearCookie(http, options.Value);
        return TypedResults.NoContent();
    }

    private static async Task<NoContent> LogoutAll(ClaimsPrincipal user, HttpContext http, SessionService sessions, AuditLog audit,
        IOptions<SessionLifetimeOptions> options, CancellationToken ct)
    {
        var userId = user.UserId();
        var ended = await sessions.RevokeAsync(s => s.UserId == userId, RevokeReasons.LoggedOut, ct);
        await audit.WriteAsync(AuditTypes.LogoutAll, userId, userId, user.TenantIdOf(), ClientIp(http), new { sessions = ended }, ct);
        ClearCookie(http, options.Value);
        return TypedResults.NoContent();
    }

    private static Ok<MeResponse> Me(ClaimsPrincipal user) =>
        TypedResults.Ok(new MeResponse(
            user.UserId(),
            user.FindFirstValue(SessionClaims.Tenant)!,
            user.FindFirstValue(SessionClaims.Name)!,
            user.RolesOf(),
            user.PermissionsOf(),
            new MeSession(
                user.SessionIdOf(),
                user.FindFirstValue(SessionClaims.Device)!,
                DateTimeOffset.FromUnixTimeSeconds(long.Parse(user.FindFirstValue(SessionClaims.CreatedAt)!)),
                DateTimeOffset.FromUnixTimeSeconds(long.Parse(user.FindFirstValue(SessionClaims.ExpiresAt)!)))));

    private static async Task<Ok<List<OwnSession>>> ListSessions(ClaimsPrincipal user, AppDbContext db, TimeProvider time, CancellationToken ct)
    {
        var (userId, current) = (user.UserId(), user.SessionIdOf());
        var list = await db.Sessions.AsNoTracking()
            .Where(s => s.UserId == userId).Where(SessionService.IsLive(time.GetUtcNow()))
            .OrderByDescending(s => s.CreatedAt).Take(200)
            .Select(s => new OwnSession(s.Id, s.DeviceType, s.CreatedAt, s.LastSeenAt, s.Ip, s.UserAgent, s.Id == current))
            .ToListAsync(ct);
        return TypedResults.Ok(list);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> EndSession(
        Guid id, ClaimsPrincipal user, HttpContext http, SessionService sessions, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        var userId = user.UserId();
        var now = time.GetUtcNow();
        var ended = await sessions.RevokeAsync(s => s.Id == id && s.UserId == userId && s.IdleExpiresAt > now && s.AbsoluteExpiresAt > now, RevokeReasons.LoggedOut, ct);
        if (ended == 0) return Problems.NotFoundResult();
        await audit.WriteAsync(AuditTypes.Logout, userId, userId, user.TenantIdOf(), ClientIp(http), new { session_id = id }, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> ChangePassword(
        ChangePasswordRequest? body, ClaimsPrincipal user, HttpContext http, AppDbContext db, PasswordPolicy passwords,
        SessionService sessions, AuditLog audit, CancellationToken ct)
    {
        if (body is null || string.IsNullOrEmpty(body.CurrentPassword) || string.IsNullOrEmpty(body.NewPassword))
            return Problems.ValidationFailed("current_password and new_password are required.");
        if (body.CurrentPassword.Length > Limits.MaxPassword || body.NewPassword.Length > Limits.MaxPassword)
            return Problems.ValidationFailed("The password is too long.");
        var userId = user.UserId();
        var entity = await db.Users.FirstOrDefaultAsync(u => u.Id == userId, ct);
        if (entity is null) return Problems.Result(401, Problems.Unauthenticated);
        if (passwords.Verify(entity, body.CurrentPassword) == PasswordVerificationResult.Failed)
            return Problems.Result(403, Problems.InvalidCredentials);
        if (PasswordPolicy.Weakness(body.NewPassword, entity.Username) is { } weakness)
            return Problems.Result(400, Problems.WeakPassword, weakness);

        entity.PasswordHash = passwords.Hash(entity, body.NewPassword);
        audit.Add(AuditTypes.PasswordChanged, userId, userId, entity.TenantId, ClientIp(http));
        await db.SaveChangesAsync(ct);
        var current = user.SessionIdOf();
        await sessions.RevokeAsync(s => s.UserId == userId && s.Id != current, RevokeReasons.PasswordChanged, ct);
        return TypedResults.NoContent();
    }

    private static void WriteCookie(HttpContext http, SessionLifetimeOptions options, IssuedCredential credential)
    {
        if (credential.CookieValue is null) return;
        http.Response.Cookies.Append(options.Cookie.Name, credential.CookieValue, new CookieOptions
        {
            HttpOnly = true,
            Secure = true,
            SameSite = SameSiteMode.Strict,
            Path = "/",
            Expires = credential.CookieExpires,
        });
    }

    private static void ClearCookie(HttpContext http, SessionLifetimeOptions options)
    {
        if (!http.Request.Cookies.ContainsKey(options.Cookie.Name)) return;
        http.Response.Cookies.Delete(options.Cookie.Name, new CookieOptions { HttpOnly = true, Secure = true, SameSite = SameSiteMode.Strict, Path = "/" });
    }

    public static string? ClientIp(HttpContext http) => http.Connection.RemoteIpAddress?.ToString();

    private static string? UserAgent(HttpContext http)
    {
        var ua = http.Request.Headers.UserAgent.ToString();
        return string.IsNullOrEmpty(ua) ? null : ua;
    }
}
