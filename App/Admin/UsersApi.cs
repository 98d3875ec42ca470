using System.Security.Claims;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using SessionGate.Auth;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Admin;

public sealed record UserView(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt);

/// <summary>The failed-login state of an account: failures in the window, whether the account-wide ceiling holds, and the addresses locked out.</summary>
public sealed record LoginLockView(long Failures, bool AccountLocked, int LockedAddresses, DateTimeOffset? LockedUntil);

public sealed record UserDetail(Guid Id, string Username, string[] Roles, DateTimeOffset? BannedUntil, DateTimeOffset CreatedAt, LoginLockView LoginLock);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateUserRequest(string? Username, string? Password, string[]? Roles);

/// <summary>The fields an admin may change; anything else in the body (tenant, roles, ids) is refused.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PatchUserRequest(string? Username, string? Password, string? CurrentPassword = null);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SetRolesRequest(string[]? Roles);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record BanRequest(DateTimeOffset? Until, string? Reason);

internal static class UsersApi
{
    private static readonly DateTimeOffset Forever = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // GET    /admin/users                  users:read
    // POST   /admin/users                  users:write
    // GET    /admin/users/{id}             users:read
    // PATCH  /admin/users/{id}             users:write
    // DELETE /admin/users/{id}             users:write
    // PUT    /admin/users/{id}/roles       users:write
    // POST   /admin/users/{id}/ban         users:write
    // POST   /admin/users/{id}/unban       users:write
    // POST   /admin/users/{id}/logout-all  sessions:kick
    public static void MapAdminUsers(this RouteGroupBuilder admin)
    {
        var users = admin.MapGroup("/users").WithTags("Admin: users");
        users.MapGet("/", List).RequireAuthorization(Permissions.UsersRead).WithName("ListUsers").WithSummary("Users of the tenant, paged.");
        users.MapPost("/", Create).RequireAuthorization(Permissions.UsersWrite).WithName("CreateUser").WithSummary("Create a user.");
        users.MapGet("/{id:guid}", Get).RequireAuthorization(Permissions.UsersRead).WithName("GetUser").WithSummary("One user.");
        users.MapPatch("/{id:guid}", Patch).RequireAuthorization(Permissions.UsersWrite).WithName("PatchUser")
            .WithSummary("Change username or password (a new password ends the user's sessions).");
        users.MapDelete("/{id:guid}", Delete).RequireAuthorization(Permissions.UsersWrite).WithName("DeleteUser").WithSummary("Delete a user; its sessions end.");
        users.MapPut("/{id:guid}/roles", SetRoles).RequireAuthorization(Permissions.UsersWrite).WithName("SetUserRoles")
            .WithSummary("Replace the user's roles; they apply on the user's next request.");
        users.MapPost("/{id:guid}/ban", Ban).RequireAuthorization(Permissions.UsersWrite).WithName("BanUser")
            .WithSummary("End every session and refuse login until `until` (forever when absent).");
        users.MapPost("/{id:guid}/unban", Unban).RequireAuthorization(Permissions.UsersWrite).WithName("UnbanUser").WithSummary("Lift a ban.");
        users.MapPost("/{id:guid}/unlock", Unlock).RequireAuthorization(Permissions.UsersWrite).WithName("UnlockUser")
            .WithSummary("Clear the failed-login limits that hold for this user, from every address.");
        users.MapPost("/{id:guid}/logout-all", LogoutAll).RequireAuthorization(Permissions.SessionsKick).WithName("KickAllUserSessions")
            .WithSummary("End all of the user's sessions.");
    }

    private static async Task<Results<Ok<Paged<UserView>>, ProblemHttpResult>> List(
        ClaimsPrincipal caller, AppDbContext db, [FromQuery] int? page, [FromQuery] int? size, [FromQuery] string? tenant, CancellationToken ct)
    {
        if (AdminApi.ValidatePage(page, size, out var p, out var s) is { } invalid) return Problems.ValidationFailed(invalid);
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        var query = db.Users.AsNoTracking().Where(u => u.TenantId == tenantId);
        var total = await query.LongCountAsync(ct);
        var items = await Project(query.OrderBy(u => u.NormalizedUsername).Skip((p - 1) * s).Take(s), db).ToListAsync(ct);
        return TypedResults.Ok(new Paged<UserView>(items, p, s, total));
    }

    private static IQueryable<UserView> Project(IQueryable<User> users, AppDbContext db) =>
        users.Select(u => new UserView(u.Id, u.Username,
            db.UserRoles.Where(ur => ur.UserId == u.Id).Select(ur => ur.Role!.Name).OrderBy(n => n).ToArray(),
            u.BannedUntil, u.CreatedAt));

    private static async Task<Results<Created<UserView>, ProblemHttpResult>> Create(
        CreateUserRequest? body, ClaimsPrincipal caller, HttpContext http, AppDbContext db, PasswordPolicy passwords, AuditLog audit,
        TimeProvider time, [FromQuery] string? tenant, CancellationToken ct)
    {
        if (body is null || string.IsNullOrWhiteSpace(body.Username) || string.IsNullOrEmpty(body.Password))
            return Problems.ValidationFailed("username and password are required.");
        var username = body.Username.Trim();
        if (!AdminApi.UsernamePattern().IsMatch(username))
            return Problems.ValidationFailed("username may hold letters, digits and . _ @ - (at most 128).");
        if (body.Password.Length > Limits.MaxPassword) return Problems.ValidationFailed("password is too long.");
        if (PasswordPolicy.Weakness(body.Password, username) is { } weakness) return Problems.Result(400, Problems.WeakPassword, weakness);
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();

        var normalized = username.ToLowerInvariant();
        if (await db.Users.AnyAsync(u => u.TenantId == tenantId && u.NormalizedUsername == normalized, ct))
            return Problems.Result(409, Problems.Conflict, "A user with this username exists.");
        var (roles, unknown) = await FindRolesAsync(db, tenantId, body.Roles ?? [], ct);
        if (unknown is not null) return Problems.ValidationFailed($"Unknown role: {unknown}.");
        if (!AdminApi.MayGrant(caller, roles.SelectMany(r => r.Permissions))) return AdminApi.Forbidden();

        var user = new User { TenantId = tenantId, Username = username, NormalizedUsername = normalized, PasswordHash = "", CreatedAt = time.GetUtcNow() };
        user.PasswordHash = await passwords.HashAsync(user, body.Password, ct);
        user.Roles.AddRange(roles.Select(r => new UserRole { RoleId = r.Id }));
        db.Users.Add(user);
        audit.Add(AuditTypes.UserCreated, caller.UserId(), user.Id, tenantId, ClientAddress.Of(http), new { username, roles = roles.Select(r => r.Name) });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation())
        {
            return Problems.Result(409, Problems.Conflict, "A user with this username exists.");
        }
        var view = new UserView(user.Id, user.Username, roles.Select(r => r.Name).Order().ToArray(), null, user.CreatedAt);
        return TypedResults.Created($"/admin/users/{user.Id}", view);
    }

    private static async Task<Results<Ok<UserDetail>, ProblemHttpResult>> Get(
        Guid id, ClaimsPrincipal caller, AppDbContext db, RedisStore redis, TimeProvider time,
        Microsoft.Extensions.Options.IOptions<LoginLimitOptions> limits, [FromQuery] string? tenant, CancellationToken ct)
    {
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        var view = await Project(db.Users.AsNoTracking().Where(u => u.Id == id && u.TenantId == tenantId), db).FirstOrDefaultAsync(ct);
        if (view is null) return AdminApi.NotFound();
        var account = await AccountOfAsync(db, id, ct);
        var (failures, addresses, until) = await redis.GetLoginLockAsync(account!, time.GetUtcNow());
        return TypedResults.Ok(new UserDetail(view.Id, view.Username, view.Roles, view.BannedUntil, view.CreatedAt,
            new LoginLockView(failures, failures >= limits.Value.MaxFailuresPerAccount, addresses, until)));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Unlock(
        Guid id, ClaimsPrincipal caller, HttpContext http, AppDbContext db, RedisStore redis, AuditLog audit,
        Microsoft.Extensions.Options.IOptions<LoginLimitOptions> limits, [FromQuery] string? tenant, CancellationToken ct)
    {
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        if (!await db.Users.AnyAsync(u => u.Id == id && u.TenantId == tenantId, ct)) return AdminApi.NotFound();
        if (!await AdminApi.MayManageAsync(caller, id, db, ct)) return AdminApi.Forbidden();
        await redis.UnlockLoginAsync((await AccountOfAsync(db, id, ct))!, limits.Value.Window);
        await audit.WriteAsync(AuditTypes.UserUnlocked, caller.UserId(), id, tenantId, ClientAddress.Of(http), null, ct);
        return TypedResults.NoContent();
    }

    // The failed-login limits key an account by tenant slug and normalised username.
    private static async Task<string?> AccountOfAsync(AppDbContext db, Guid id, CancellationToken ct)
    {
        var user = await db.Users.AsNoTracking().Where(u => u.Id == id).Select(u => new { u.Tenant!.Slug, u.NormalizedUsername }).FirstOrDefaultAsync(ct);
        return user is null ? null : LoginService.Account(user.Slug, user.NormalizedUsername);
    }

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> Patch(
        Guid id, PatchUserRequest? body, ClaimsPrincipal caller, HttpContext http, AppDbContext db, PasswordPolicy passwords,
        SessionService sessions, AuditLog audit, [FromQuery] string? tenant, CancellationToken ct)
    {
        if (body is null) return Problems.ValidationFailed("A JSON body is required.");
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        var user = await db.Users.FirstOrDefaultAsync(u => u.Id == id && u.TenantId == tenantId, ct);
        if (user is null) return AdminApi.NotFound();
        if (!await AdminApi.MayManageAsync(caller, id, db, ct)) return AdminApi.Forbidden();

        var changed = new List<string>();
        if (body.Username is not null)
        {
            var username = body.Username.Trim();
            if (!AdminApi.UsernamePattern().IsMatch(username)) return Problems.ValidationFailed("username may hold letters, digits and . _ @ - (at most 128).");
            var normalized = username.ToLowerInvariant();
            if (normalized != user.NormalizedUsername && await db.Users.AnyAsync(u => u.TenantId == tenantId && u.NormalizedUsername == normalized, ct))
                return Problems.Result(409, Problems.Conflict, "A user with this username exists.");
            (user.Username, user.NormalizedUsername) = (username, normalized);
            changed.Add("username");
        }
        if (body.Password is not null)
        {
            if (body.Password.Length > Limits.MaxPassword) return Problems.ValidationFailed("password is too long.");
            if (PasswordPolicy.Weakness(body.Password, user.Username) is { } weakness) return Problems.Result(400, Problems.WeakPassword, weakness);
            // An admin changing its own password proves it knows the current one, like any user (a stolen session
            // must not be enough to take the account over).
            if (id == caller.UserId())
            {
                if (string.IsNullOrEmpty(body.CurrentPassword)) return Problems.ValidationFailed("current_password is required to change your own password.", "current_password");
                if (await passwords.VerifyAsync(user, user.PasswordHash, body.CurrentPassword, ct) == Microsoft.AspNetCore.Identity.PasswordVerificationResult.Failed)
                    return Problems.Result(403, Problems.InvalidCredentials);
            }
            user.PasswordHash = await passwords.HashAsync(user, body.Password, ct);
            changed.Add("password");
        }
        audit.Add(AuditTypes.UserUpdated, caller.UserId(), user.Id, tenantId, ClientAddress.Of(http), new { fields = changed });
        try
        {
            await sessions.ChangeAsync(async change =>
            {
                // Locked first, so a login in flight either finished (and its session ends here) or sees the new password.
                await change.LockUserAsync(id, ct);
                return body.Password is null ? 0 : await change.RevokeAsync(s => s.UserId == id, RevokeReasons.PasswordChanged, ct);
            }, ct);
        }
        catch (DbUpdateException e) when (e.IsUniqueViolation())
        {
            return Problems.Result(409, Problems.Conflict, "A user with this username exists.");
        }
        var view = await Project(db.Users.AsNoTracking().Where(u => u.Id == id), db).FirstAsync(ct);
        return TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        Guid id, ClaimsPrincipal caller, HttpContext http, AppDbContext db, SessionService sessions, AuditLog audit,
        [FromQuery] string? tenant, CancellationToken ct)
    {
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        if (!await db.Users.AnyAsync(u => u.Id == id && u.TenantId == tenantId, ct)) return AdminApi.NotFound();
        if (!await AdminApi.MayManageAsync(caller, id, db, ct)) return AdminApi.Forbidden();
        var deleted = await sessions.ChangeAsync(async change =>
        {
            // Locked first: a login in flight either committed (and its session is ended here) or finds no user.
            if (await change.LockUserAsync(id, ct) is null) return change.Cancel(false);
            await change.RevokeAsync(s => s.UserId == id, RevokeReasons.Kicked, ct);
            await db.Users.Where(u => u.Id == id && u.TenantId == tenantId).ExecuteDeleteAsync(ct);
            audit.Add(AuditTypes.UserDeleted, caller.UserId(), id, tenantId, ClientAddress.Of(http));
            return true;
        }, ct);
        return deleted ? TypedResults.NoContent() : AdminApi.NotFound();
    }

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> SetRoles(
        Guid id, SetRolesRequest? body, ClaimsPrincipal caller, HttpContext http, AppDbContext db, SessionService sessions, AuditLog audit,
        [FromQuery] string? tenant, CancellationToken ct)
    {
        if (body?.Roles is null) return Problems.ValidationFailed("roles is required.");
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        if (!await db.Users.AnyAsync(u => u.Id == id && u.TenantId == tenantId, ct)) return AdminApi.NotFound();
        var (roles, unknown) = await FindRolesAsync(db, tenantId, body.Roles, ct);
        if (unknown is not null) return Problems.ValidationFailed($"Unknown role: {unknown}.");
        if (!await AdminApi.MayManageAsync(caller, id, db, ct) || !AdminApi.MayGrant(caller, roles.SelectMany(r => r.Permissions)))
            return AdminApi.Forbidden();

        await sessions.ChangeAsync(async change =>
        {
            await change.LockUserAsync(id, ct);
            await db.UserRoles.Where(ur => ur.UserId == id).ExecuteDeleteAsync(ct);
            db.UserRoles.AddRange(roles.Select(r => new UserRole { UserId = id, RoleId = r.Id }));
            audit.Add(AuditTypes.UserRolesChanged, caller.UserId(), id, tenantId, ClientAddress.Of(http), new { roles = roles.Select(r => r.Name) });
            await change.UsersChangedAsync([id], RevokeReasons.RolesChanged, ct);
            return 0;
        }, ct);
        var view = await Project(db.Users.AsNoTracking().Where(u => u.Id == id), db).FirstAsync(ct);
        return TypedResults.Ok(view);
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Ban(
        Guid id, BanRequest? body, ClaimsPrincipal caller, HttpContext http, AppDbContext db, SessionService sessions, AuditLog audit,
        TimeProvider time, [FromQuery] string? tenant, CancellationToken ct)
    {
        body ??= new BanRequest(null, null);
        if (body.Until is { } until && until <= time.GetUtcNow()) return Problems.ValidationFailed("until must be in the future.");
        if (body.Reason is { Length: > 500 }) return Problems.ValidationFailed("reason is too long (at most 500).");
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        if (id == caller.UserId()) return Problems.ValidationFailed("You cannot ban yourself.");
        if (!await db.Users.AnyAsync(u => u.Id == id && u.TenantId == tenantId, ct)) return AdminApi.NotFound();
        if (!await AdminApi.MayManageAsync(caller, id, db, ct)) return AdminApi.Forbidden();
        var banned = await sessions.ChangeAsync(async change =>
        {
            if (await change.LockUserAsync(id, ct) is null) return change.Cancel(false);
            await db.Users.Where(u => u.Id == id && u.TenantId == tenantId)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedUntil, body.Until ?? Forever).SetProperty(u => u.BanReason, body.Reason), ct);
            await change.RevokeAsync(s => s.UserId == id, RevokeReasons.Banned, ct);
            await change.UsersChangedAsync([id], RevokeReasons.Banned, ct);
            audit.Add(AuditTypes.UserBanned, caller.UserId(), id, tenantId, ClientAddress.Of(http), new { until = body.Until, reason = body.Reason });
            return true;
        }, ct);
        return banned ? TypedResults.NoContent() : AdminApi.NotFound();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Unban(
        Guid id, ClaimsPrincipal caller, HttpContext http, AppDbContext db, SessionService sessions, AuditLog audit,
        [FromQuery] string? tenant, CancellationToken ct)
    {
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        if (!await db.Users.AnyAsync(u => u.Id == id && u.TenantId == tenantId, ct)) return AdminApi.NotFound();
        if (!await AdminApi.MayManageAsync(caller, id, db, ct)) return AdminApi.Forbidden();
        var updated = await db.Users.Where(u => u.Id == id && u.TenantId == tenantId)
            .ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedUntil, (DateTimeOffset?)null).SetProperty(u => u.BanReason, (string?)null), ct);
        if (updated == 0) return AdminApi.NotFound();
        await audit.WriteAsync(AuditTypes.UserUnbanned, caller.UserId(), id, tenantId, ClientAddress.Of(http), null, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> LogoutAll(
        Guid id, ClaimsPrincipal caller, HttpContext http, AppDbContext db, SessionService sessions, AuditLog audit,
        [FromQuery] string? tenant, CancellationToken ct)
    {
        if (await AdminApi.ResolveTenantAsync(caller, tenant, db, ct) is not { } tenantId) return AdminApi.NotFound();
        if (!await db.Users.AnyAsync(u => u.Id == id && u.TenantId == tenantId, ct)) return AdminApi.NotFound();
        if (!await AdminApi.MayManageAsync(caller, id, db, ct)) return AdminApi.Forbidden();
        await sessions.ChangeAsync(async change =>
        {
            await change.LockUserAsync(id, ct);
            var ended = await change.RevokeAsync(s => s.UserId == id, RevokeReasons.Kicked, ct);
            await change.UsersChangedAsync([id], RevokeReasons.Kicked, ct);
            audit.Add(AuditTypes.UserLogoutAll, caller.UserId(), id, tenantId, ClientAddress.Of(http), new { sessions = ended });
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
        return (roles, missing is null ? null : missing.Length > 64 ? missing[..64] : missing);
    }
}
