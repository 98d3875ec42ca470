using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using SessionGate.Auth;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Events;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Admin;

public sealed record UserView(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt);

/// <summary>The failed-login state of an account: failures in the window, whether the account-wide ceiling holds, and the addresses locked out.</summary>
public sealed record LoginLockView(long Failures, bool AccountLocked, int LockedAddresses, DateTimeOffset? LockedUntil);

public sealed record UserDetail(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt, LoginLockView LoginLock,
    UserMfaView Mfa);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateUserRequest(string? Username, string? Password, string[]? Roles);

/// <summary>The fields an admin may change; anything else in the body (tenant, roles, ids) is refused.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PatchUserRequest(string? Username, string? Password, string? CurrentPassword = null, string? DeviceToken = null);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SetRolesRequest(string[]? Roles);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BanRequest(DateTimeOffset? Until, string? Reason);

internal static class UsersApi
{
    private static readonly DateTimeOffset Forever = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // GET    /admin/users                  users:read   (?q= searches usernames)
    // POST   /admin/users                  users:write
    // GET    /admin/users/{id}             users:read
    // PATCH  /admin/users/{id}             users:write  (manage)
    // DELETE /admin/users/{id}             users:write  (manage)
    // PUT    /admin/users/{id}/roles       users:write  (manage)
    // POST   /admin/users/{id}/ban         users:write  (manage)
    // POST   /admin/users/{id}/unban       users:write  (manage)
    // POST   /admin/users/{id}/unlock      users:write  (manage)
    // POST   /admin/users/{id}/logout-all  sessions:kick (manage)
    // "manage": the caller holds every permission the user holds (AdminTenancy.RequireManageAsync).
    public static void MapAdminUsers(this RouteGroupBuilder admin)
    {
        var users = admin.MapGroup("/users").WithTags("Admin: users");
        users.MapGet("/", List).RequireAuthorization(Permissions.UsersRead).WithName("ListUsers").WithSummary("Users of the tenant, paged.")
            .ProducesProblems(400, Problems.Validation);
        users.MapPost("/", Create).RequireAuthorization(Permissions.UsersWrite).WithName("CreateUser").WithSummary("Create a user.")
            .ProducesProblems(400, Problems.Validation, Problems.WeakPassword).ProducesProblems(409, Problems.Conflict);

        var user = users.MapGroup("/{id:guid}").AddEndpointFilter(AdminTenancy.ResolveTargetUserAsync).ProducesProblems(404, Problems.NotFound);
        user.MapGet("", Get).RequireAuthorization(Permissions.UsersRead).WithName("GetUser").WithSummary("One user, with its failed-login lock state.");
        var managed = user.MapGroup("").AddEndpointFilter(AdminTenancy.RequireManageAsync);
        managed.MapPatch("", Patch).RequireAuthorization(Permissions.UsersWrite).WithName("PatchUser")
            .WithSummary("Change username or password (a new password ends the user's sessions; your own needs current_password).")
            .ProducesProblems(400, Problems.Validation, Problems.WeakPassword).ProducesProblems(403, Problems.InvalidCredentials)
            .ProducesProblems(409, Problems.Conflict).ProducesProblems(429, Problems.TooManyAttempts);
        managed.MapDelete("", Delete).RequireAuthorization(Permissions.UsersWrite).RequireStepUp().WithName("DeleteUser").WithSummary("Delete a user; its sessions end.");
        managed.MapPut("/roles", SetRoles).RequireAuthorization(Permissions.UsersWrite).RequireStepUp().WithName("SetUserRoles")
            .WithSummary("Replace the user's roles; they apply on the user's next request.").ProducesProblems(400, Problems.Validation);
        managed.MapPost("/ban", Ban).RequireAuthorization(Permissions.UsersWrite).WithName("BanUser")
            .WithSummary("End every session and refuse login until `until` (forever when absent).").ProducesProblems(400, Problems.Validation);
        managed.MapPost("/unban", Unban).RequireAuthorization(Permissions.UsersWrite).WithName("UnbanUser").WithSummary("Lift a ban.");
        managed.MapPost("/unlock", Unlock).RequireAuthorization(Permissions.UsersWrite).WithName("UnlockUser")
            .WithSummary("Clear the failed-login limits that hold for this user, from every address.");
        managed.MapPost("/logout-all", LogoutAll).RequireAuthorization(Permissions.SessionsKick).WithName("KickAllUserSessions")
            .WithSummary("End all of the user's sessions.");
    }

    private static async Task<Results<Ok<Paged<UserView>>, ProblemHttpResult>> List(
        [AsParameters] AdminScope scope, AppDbContext db, [FromQuery] int? page, [FromQuery] int? size,
        [FromQuery, System.ComponentModel.Description("Only users whose username contains this (case-insensitive).")] string? q, CancellationToken ct)
    {
        if (AdminApi.ValidatePage(page, size, out var p, out var s) is { } invalid) return invalid;
        if (q is { Length: > 128 }) return Problems.ValidationFailed("q is too long (at most 128).", "q");
        var query = db.Users.AsNoTracking().Where(u => u.TenantId == scope.Admin.TenantId);
        if (!string.IsNullOrWhiteSpace(q))
        {
            // Usernames are stored lower-cased too; LIKE's own characters in q are matched literally.
            var pattern = "%" + q.Trim().ToLowerInvariant().Replace("\\", "\\\\").Replace("%", "\\%").Replace("_", "\\_") + "%";
            query = query.Where(u => EF.Functions.Like(u.NormalizedUsername, pattern, "\\"));
        }
        var total = await query.LongCountAsync(ct);
        var items = await Project(query.OrderBy(u => u.NormalizedUsername).Skip((p - 1) * s).Take(s), db).ToListAsync(ct);
        return TypedResults.Ok(new Paged<UserView>(items, p, s, total));
    }

    private static IQueryable<UserView> Project(IQueryable<User> users, AppDbContext db) =>
        users.Select(u => new UserView(u.Id, u.Username,
            db.UserRoles.Where(ur => ur.UserId == u.Id).Select(ur => ur.Role!.Name).OrderBy(n => n).ToArray(),
            u.BannedUntil, u.CreatedAt));

    private static Task<UserView> ViewAsync(AppDbContext db, Guid id, CancellationToken ct) =>
        Project(db.Users.AsNoTracking().Where(u => u.Id == id), db).FirstAsync(ct);

    private static async Task<Results<Created<UserView>, ProblemHttpResult>> Create(
        CreateUserRequest? body, [AsParameters] AdminScope scope, HttpContext http, AppDbContext db, PasswordPolicy passwords, AuditLog audit,
        TimeProvider time, CancellationToken ct)
    {
        var admin = scope.Admin;
        if (body is null || string.IsNullOrWhiteSpace(body.Username)) return Problems.ValidationFailed("username is required.", "username");
        if (string.IsNullOrEmpty(body.Password)) return Problems.ValidationFailed("password is required.", "password");
        var username = body.Username.Trim();
        if (!AdminApi.UsernamePattern().IsMatch(username))
            return Problems.ValidationFailed("username may hold letters, digits and . _ @ - (at most 128).", "username");
        if (PasswordProblems.Check(body.Password, username) is { } weak) return weak;
        var (roles, unknown) = await FindRolesAsync(db, admin.TenantId, body.Roles ?? [], ct);
        if (unknown is not null) return Problems.ValidationFailed($"Unknown role: {unknown}.", "roles");
        if (!admin.MayGrant(roles.SelectMany(r => r.Permissions))) return AdminApi.Forbidden();

        var user = new User { TenantId = admin.TenantId, Username = username, NormalizedUsername = username.ToLowerInvariant(), PasswordHash = "", CreatedAt = time.GetUtcNow() };
        user.PasswordHash = await passwords.HashAsync(user, body.Password, HashingLane.SignedIn(admin.CallerId), ct);
        user.Roles.AddRange(roles.Select(r => new UserRole { RoleId = r.Id }));
        db.Users.Add(user);
        audit.Add(AuditTypes.UserCreated, admin.CallerId, user.Id, admin.TenantId, ClientAddress.Of(http), new { username, roles = roles.Select(r => r.Name) });
        await db.SaveChangesAsync(ct); // a duplicate name is a unique violation: 409 conflict
        var view = new UserView(user.Id, user.Username, roles.Select(r => r.Name).Order().ToArray(), null, user.CreatedAt);
        return TypedResults.Created($"/admin/users/{user.Id}", view);
    }

    private static async Task<Ok<UserDetail>> Get(
        [AsParameters] AdminScope scope, AppDbContext db, LoginCounters counters, TimeProvider time,
        Microsoft.Extensions.Options.IOptions<LoginLimitOptions> limits, Mfa.Factors factors, CancellationToken ct)
    {
        var target = scope.Admin.Target;
        var view = await ViewAsync(db, target.Id, ct);
        var (failures, addresses, until) = await counters.GetLockAsync(LoginService.Account(target.TenantSlug, target.NormalizedUsername), time.GetUtcNow());
        return TypedResults.Ok(new UserDetail(view.Id, view.Username, view.Roles, view.BannedUntil, view.CreatedAt,
            new LoginLockView(failures, failures >= limits.Value.MaxFailuresPerAccount, addresses, until),
            await MfaAdminApi.ViewAsync(factors, target.Id, ct)));
    }

    private static async Task<NoContent> Unlock(
        [AsParameters] AdminScope scope, HttpContext http, LoginCounters counters, AuditLog audit,
        Microsoft.Extensions.Options.IOptions<LoginLimitOptions> limits, CancellationToken ct)
    {
        var (admin, target) = (scope.Admin, scope.Admin.Target);
        await counters.UnlockAsync(LoginService.Account(target.TenantSlug, target.NormalizedUsername), limits.Value.Window);
        await audit.WriteAsync(AuditTypes.UserUnlocked, admin.CallerId, target.Id, admin.TenantId, ClientAddress.Of(http), null, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> Patch(
        PatchUserRequest? body, [AsParameters] AdminScope scope, HttpContext http, AppDbContext db, PasswordPolicy passwords,
        CurrentPassword currentPassword, SessionService sessions, AuditLog audit, CancellationToken ct)
    {
        if (body is null) return Problems.ValidationFailed("A JSON body is required.");
        var (admin, id) = (scope.Admin, scope.Admin.Target.Id);
        var user = await db.Users.FirstAsync(u => u.Id == id, ct);
        var changed = new List<string>();
        if (body.Username is not null)
        {
            var username = body.Username.Trim();
            if (!AdminApi.UsernamePattern().IsMatch(username))
                return Problems.ValidationFailed("username may hold letters, digits and . _ @ - (at most 128).", "username");
            (user.Username, user.NormalizedUsername) = (username, username.ToLowerInvariant());
            changed.Add("username");
        }
        if (body.Password is not null)
        {
            if (PasswordProblems.Check(body.Password, user.Username) is { } weak) return weak;
            // An admin changing its own password proves it knows the current one, like any user (a stolen session
            // must not be enough to take the account over).
            if (id == admin.CallerId)
            {
                if (string.IsNullOrEmpty(body.CurrentPassword)) return Problems.ValidationFailed("current_password is required to change your own password.", "current_password");
                // Counted like POST /auth/password's, in the same counters: a stolen admin session is no password oracle.
                var check = await currentPassword.CheckAsync(http, user, LoginService.Account(admin.Target.TenantSlug, admin.Target.NormalizedUsername), body.CurrentPassword, body.DeviceToken, ct);
                if (check.RetryAfter is { } retry)
                {
                    http.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, retry.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
                    return Problems.Result(StatusCodes.Status429TooManyRequests, Problems.TooManyAttempts);
                }
                if (!check.Right) return Problems.Result(403, Problems.InvalidCredentials);
            }
            user.PasswordHash = await passwords.HashAsync(user, body.Password, HashingLane.SignedIn(admin.CallerId), ct);
            changed.Add("password");
        }
        audit.Add(AuditTypes.UserUpdated, admin.CallerId, id, admin.TenantId, ClientAddress.Of(http), new { fields = changed });
        await sessions.ChangeAsync(async change =>
        {
            // Locked first, so a login in flight either finished (and its session ends here) or sees the new password.
            await change.LockUserAsync(id, ct);
            return body.Password is null ? 0 : await change.EndAllAsync(id, RevokeReasons.PasswordChanged, ct);
        }, ct); // a taken username is a unique violation: 409 conflict
        return TypedResults.Ok(await ViewAsync(db, id, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        [AsParameters] AdminScope scope, HttpContext http, AppDbContext db, SessionService sessions, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        var (admin, id) = (scope.Admin, scope.Admin.Target.Id);
        var deleted = await sessions.ChangeAsync(async change =>
        {
            // Locked first: a login in flight either committed (and its session is ended here) or finds no user.
            if (await change.LockUserAsync(id, ct) is null) return change.Cancel(false);
            await change.RevokeAsync(s => s.UserId == id, RevokeReasons.Kicked, ct);
            await EventLog.UserEventAsync(db, EventTypes.UserDeleted, id, time.GetUtcNow(), ct);
            await db.Users.Where(u => u.Id == id).ExecuteDeleteAsync(ct);
            audit.Add(AuditTypes.UserDeleted, admin.CallerId, id, admin.TenantId, ClientAddress.Of(http));
            return true;
        }, ct);
        return deleted ? TypedResults.NoContent() : Problems.NotFoundResult();
    }

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> SetRoles(
        SetRolesRequest? body, [AsParameters] AdminScope scope, HttpContext http, AppDbContext db, SessionService sessions, AuditLog audit, TimeProvider time,
        CancellationToken ct)
    {
        if (body?.Roles is null) return Problems.ValidationFailed("roles is required.", "roles");
        var (admin, id) = (scope.Admin, scope.Admin.Target.Id);
        var (roles, unknown) = await FindRolesAsync(db, admin.TenantId, body.Roles, ct);
        if (unknown is not null) return Problems.ValidationFailed($"Unknown role: {unknown}.", "roles");
        if (!admin.MayGrant(roles.SelectMany(r => r.Permissions))) return AdminApi.Forbidden();

        await sessions.ChangeAsync(async change =>
        {
            await change.LockUserAsync(id, ct);
            await db.UserRoles.Where(ur => ur.UserId == id).ExecuteDeleteAsync(ct);
            db.UserRoles.AddRange(roles.Select(r => new UserRole { UserId = id, RoleId = r.Id }));
            audit.Add(AuditTypes.UserRolesChanged, admin.CallerId, id, admin.TenantId, ClientAddress.Of(http), new { roles = roles.Select(r => r.Name) });
            await change.UsersChangedAsync([id], RevokeReasons.RolesChanged, ct);
            await EventLog.UserEventAsync(db, EventTypes.UserRolesChanged, id, time.GetUtcNow(), ct);
            return 0;
        }, ct);
        return TypedResults.Ok(await ViewAsync(db, id, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Ban(
        BanRequest? body, [AsParameters] AdminScope scope, HttpContext http, AppDbContext db, SessionService sessions, AuditLog audit,
        TimeProvider time, CancellationToken ct)
    {
        body ??= new BanRequest(null, null);
        var (admin, id) = (scope.Admin, scope.Admin.Target.Id);
        if (body.Until is { } until && until <= time.GetUtcNow()) return Problems.ValidationFailed("until must be in the future.", "until");
        if (body.Reason is { Length: > 500 }) return Problems.ValidationFailed("reason is too long (at most 500).", "reason");
        if (id == admin.CallerId) return Problems.ValidationFailed("You cannot ban yourself.");
        var banned = await sessions.ChangeAsync(async change =>
        {
            if (await change.LockUserAsync(id, ct) is null) return change.Cancel(false);
            await db.Users.Where(u => u.Id == id)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedUntil, body.Until ?? Forever).SetProperty(u => u.BanReason, body.Reason), ct);
            await change.EndAllAsync(id, RevokeReasons.Banned, ct);
            await EventLog.UserEventAsync(db, EventTypes.UserBanned, id, time.GetUtcNow(), ct, new { until = body.Until });
            audit.Add(AuditTypes.UserBanned, admin.CallerId, id, admin.TenantId, ClientAddress.Of(http), new { until = body.Until, reason = body.Reason });
            return true;
        }, ct);
        return banned ? TypedResults.NoContent() : Problems.NotFoundResult();
    }

    private static async Task<NoContent> Unban(
        [AsParameters] AdminScope scope, HttpContext http, AppDbContext db, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        var (admin, id) = (scope.Admin, scope.Admin.Target.Id);
        await using var tx = await db.Database.BeginTransactionAsync(ct); // the event commits with the change
        if (await db.Users.Where(u => u.Id == id && u.BannedUntil != null)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedUntil, (DateTimeOffset?)null).SetProperty(u => u.BanReason, (string?)null), ct) > 0)
            await EventLog.UserEventAsync(db, EventTypes.UserUnbanned, id, time.GetUtcNow(), ct);
        await audit.WriteAsync(AuditTypes.UserUnbanned, admin.CallerId, id, admin.TenantId, ClientAddress.Of(http), null, ct);
        await tx.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<NoContent> LogoutAll(
        [AsParameters] AdminScope scope, HttpContext http, SessionService sessions, AuditLog audit, CancellationToken ct)
    {
        var (admin, id) = (scope.Admin, scope.Admin.Target.Id);
        await sessions.ChangeAsync(async change =>
        {
            var ended = await change.EndAllAsync(id, RevokeReasons.Kicked, ct);
            audit.Add(AuditTypes.UserLogoutAll, admin.CallerId, id, admin.TenantId, ClientAddress.Of(http), new { sessions = ended });
            return ended;
        }, ct);
        return TypedResults.NoContent();
    }

    private static async Task<(List<Role> Roles, string? Unknown)> FindRolesAsync(AppDbContext db, Guid tenantId, string[] names, CancellationToken ct)
    {
        if (names.Length > 50) return ([], "too many roles");
        var wanted = names.Select(n => n?.Trim().ToLowerInvariant() ?? "").Distinct().ToList();
        var roles = await db.Roles.Where(r => r.TenantId == tenantId && wanted.Contains(r.Name)).ToListAsync(ct);
        var missing = wanted.FirstOrDefault(n => roles.All(r => r.Name != n));
        return (roles, missing is null ? null : LogText.Safe(missing, 64));
    }
}
