using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Events;
using SessionGate.Sessions;

namespace SessionGate.Admin;

internal static class UsersApi
{
    private static readonly DateTimeOffset Forever = new(9999, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>What the {id} of /admin/users/{id} is (read by the tenancy filter, documented on the group).</summary>
    internal const string TargetUserId = "The user's id (from GET /admin/users).";
    private const string TakenUsername = "A user with this username exists.";

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
            .ProducesProblems(400, Problems.Validation).WithProblemExample(Problems.Validation, PageQuery.SizeProblem);
        users.MapPost("/", Create).RequireAuthorization(Permissions.UsersWrite).WithName("CreateUser").WithSummary("Create a user.")
            .ProducesProblems(400, Problems.Validation, Problems.WeakPassword).ProducesProblems(409, Problems.Conflict)
            .WithProblemExample(Problems.Conflict, TakenUsername)
            .WithRequestExample(new { username = "carol", password = "correct-horse-battery-staple", roles = Array.Empty<string>() });

        var user = users.MapGroup("/{id:guid}").AddEndpointFilter(AdminTenancy.ResolveTargetUserAsync).ProducesProblems(404, Problems.NotFound)
            .WithRouteValueDescription("id", TargetUserId);
        user.MapGet("", Get).RequireAuthorization(Permissions.UsersRead).WithName("GetUser").WithSummary("One user, with its failed-login lock state.");
        var managed = user.MapGroup("").AddEndpointFilter(AdminTenancy.RequireManageAsync);
        managed.MapPatch("", Patch).RequireAuthorization(Permissions.UsersWrite).WithName("PatchUser")
            .WithSummary("Change username or password (a new password ends the user's sessions; your own needs current_password).")
            .ProducesProblems(400, Problems.Validation, Problems.WeakPassword).ProducesProblems(403, Problems.InvalidCredentials)
            .ProducesProblems(409, Problems.Conflict).ProducesProblems(429, Problems.TooManyAttempts)
            .WithProblemExample(Problems.Conflict, TakenUsername).WithRequestExample(new { username = "carol.smith" });
        managed.MapDelete("", Delete).RequireAuthorization(Permissions.UsersWrite).RequireStepUp().WithName("DeleteUser").WithSummary("Delete a user; its sessions end.");
        managed.MapPut("/roles", SetRoles).RequireAuthorization(Permissions.UsersWrite).RequireStepUp().WithName("SetUserRoles")
            .WithSummary("Replace the user's roles; they apply on the user's next request.").ProducesProblems(400, Problems.Validation)
            .WithRequestExample(new { roles = new[] { "reporter" } });
        managed.MapPost("/ban", Ban).RequireAuthorization(Permissions.UsersWrite).WithName("BanUser")
            .WithSummary("End every session and refuse login until `until` (forever when absent).").ProducesProblems(400, Problems.Validation)
            .WithProblemExample(Problems.Validation, "until must be in the future.")
            // A ban must end in the future: a month from now.
            .WithRequestExample(services => new
            {
                until = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime.Date.AddDays(30).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
                reason = "Abuse reported to support.",
            });
        managed.MapPost("/unban", Unban).RequireAuthorization(Permissions.UsersWrite).WithName("UnbanUser").WithSummary("Lift a ban.");
        managed.MapPost("/unlock", Unlock).RequireAuthorization(Permissions.UsersWrite).WithName("UnlockUser")
            .WithSummary("Clear the failed-login limits that hold for this user, from every address.");
        managed.MapPost("/logout-all", LogoutAll).RequireAuthorization(Permissions.SessionsKick).WithName("KickAllUserSessions")
            .WithSummary("End all of the user's sessions.");
    }

    private static async Task<Results<Ok<Paged<UserView>>, ProblemHttpResult>> List(
        [AsParameters] AdminServices services, [AsParameters] PageQuery paging,
        [FromQuery, Description("Only users whose username contains this (case-insensitive).")] string? q, CancellationToken ct)
    {
        if (paging.Validate(out var p, out var s) is { } invalid) return invalid;
        if (q is { Length: > 128 }) return Problems.ValidationFailed("q is too long (at most 128).", "q");
        var db = services.Db;
        var query = db.Users.AsNoTracking().Where(u => u.TenantId == services.Admin.TenantId);
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
        CreateUserRequest? body, [AsParameters] AdminServices services, PasswordPolicy passwords, CancellationToken ct)
    {
        var (admin, db) = (services.Admin, services.Db);
        if (body is null || string.IsNullOrWhiteSpace(body.Username)) return Problems.ValidationFailed("username is required.", "username");
        if (string.IsNullOrEmpty(body.Password)) return Problems.ValidationFailed("password is required.", "password");
        var username = body.Username.Trim();
        if (!AdminApi.UsernamePattern().IsMatch(username))
            return Problems.ValidationFailed("username may hold letters, digits and . _ @ - (at most 128).", "username");
        if (PasswordProblems.Check(body.Password, username) is { } weak) return weak;
        var (roles, unknown) = await FindRolesAsync(db, admin.TenantId, body.Roles ?? [], ct);
        if (unknown is not null) return Problems.ValidationFailed($"Unknown role: {unknown}.", "roles");
        if (!admin.MayManage(roles.SelectMany(r => r.Permissions))) return AdminApi.Forbidden();

        var user = new User { TenantId = admin.TenantId, Username = username, NormalizedUsername = username.ToLowerInvariant(), PasswordHash = "", CreatedAt = services.Time.GetUtcNow() };
        user.PasswordHash = await passwords.HashAsync(user, body.Password, HashingLane.SignedIn(admin.CallerId), ct);
        user.Roles.AddRange(roles.Select(r => new UserRole { RoleId = r.Id }));
        db.Users.Add(user);
        services.Audit.Record(AuditTypes.UserCreated, user.Id, new { username, roles = roles.Select(r => r.Name) });
        await db.SaveChangesAsync(ct); // a duplicate name is a unique violation: 409 conflict
        var view = new UserView(user.Id, user.Username, roles.Select(r => r.Name).Order().ToArray(), null, user.CreatedAt);
        return TypedResults.Created($"/admin/users/{user.Id}", view);
    }

    private static async Task<Ok<UserDetail>> Get(
        [AsParameters] AdminServices services, LoginCounters counters, Microsoft.Extensions.Options.IOptions<LoginLimitOptions> limits, Mfa.Factors factors,
        CancellationToken ct)
    {
        var target = services.Admin.Target;
        var view = await ViewAsync(services.Db, target.Id, ct);
        var (failures, addresses, until) = await counters.GetLockAsync(LoginService.Account(target.TenantSlug, target.NormalizedUsername), services.Time.GetUtcNow());
        return TypedResults.Ok(new UserDetail(view.Id, view.Username, view.Roles, view.BannedUntil, view.CreatedAt,
            new LoginLockView(failures, failures >= limits.Value.MaxFailuresPerAccount, addresses, until),
            await MfaAdminApi.ViewAsync(factors, target.Id, ct)));
    }

    private static async Task<NoContent> Unlock(
        [AsParameters] AdminServices services, LoginCounters counters, Microsoft.Extensions.Options.IOptions<LoginLimitOptions> limits, CancellationToken ct)
    {
        var target = services.Admin.Target;
        await counters.UnlockAsync(LoginService.Account(target.TenantSlug, target.NormalizedUsername), limits.Value.Window);
        await services.Audit.RecordAsync(AuditTypes.UserUnlocked, target.Id, null, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> Patch(
        PatchUserRequest? body, [AsParameters] AdminServices services, HttpContext http, PasswordPolicy passwords, CurrentPassword currentPassword,
        CancellationToken ct)
    {
        if (body is null) return Problems.ValidationFailed("A JSON body is required.");
        var (admin, id, db) = (services.Admin, services.Admin.Target.Id, services.Db);
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
                    http.Response.SetRetryAfter(retry);
                    return Problems.Result(StatusCodes.Status429TooManyRequests, Problems.TooManyAttempts);
                }
                if (!check.Right) return Problems.Result(403, Problems.InvalidCredentials);
            }
            user.PasswordHash = await passwords.HashAsync(user, body.Password, HashingLane.SignedIn(admin.CallerId), ct);
            changed.Add("password");
        }
        services.Audit.Record(AuditTypes.UserUpdated, id, new { fields = changed });
        await services.Sessions.ChangeAsync(async change =>
        {
            // Locked first, so a login in flight either finished (and its session ends here) or sees the new password.
            await change.LockUserAsync(id, ct);
            return body.Password is null ? 0 : await change.EndAllAsync(id, RevokeReasons.PasswordChanged, ct);
        }, ct); // a taken username is a unique violation: 409 conflict
        return TypedResults.Ok(await ViewAsync(db, id, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        [AsParameters] AdminServices services, CancellationToken ct)
    {
        var (id, db) = (services.Admin.Target.Id, services.Db);
        var deleted = await services.Sessions.ChangeAsync(async change =>
        {
            // Locked first: a login in flight either committed (and its session is ended here) or finds no user.
            if (await change.LockUserAsync(id, ct) is null) return change.Cancel(false);
            await change.RevokeAsync(s => s.UserId == id, RevokeReasons.Kicked, ct);
            await EventLog.UserEventAsync(db, EventTypes.UserDeleted, id, services.Time.GetUtcNow(), ct);
            await db.Users.Where(u => u.Id == id).ExecuteDeleteAsync(ct);
            services.Audit.Record(AuditTypes.UserDeleted, id);
            return true;
        }, ct);
        return deleted ? TypedResults.NoContent() : Problems.NotFoundResult();
    }

    private static async Task<Results<Ok<UserView>, ProblemHttpResult>> SetRoles(
        SetRolesRequest? body, [AsParameters] AdminServices services, CancellationToken ct)
    {
        if (body?.Roles is null) return Problems.ValidationFailed("roles is required.", "roles");
        var (admin, id, db) = (services.Admin, services.Admin.Target.Id, services.Db);
        var (roles, unknown) = await FindRolesAsync(db, admin.TenantId, body.Roles, ct);
        if (unknown is not null) return Problems.ValidationFailed($"Unknown role: {unknown}.", "roles");
        if (!admin.MayManage(roles.SelectMany(r => r.Permissions))) return AdminApi.Forbidden();

        await services.Sessions.ChangeAsync(async change =>
        {
            await change.LockUserAsync(id, ct);
            await db.UserRoles.Where(ur => ur.UserId == id).ExecuteDeleteAsync(ct);
            db.UserRoles.AddRange(roles.Select(r => new UserRole { UserId = id, RoleId = r.Id }));
            services.Audit.Record(AuditTypes.UserRolesChanged, id, new { roles = roles.Select(r => r.Name) });
            await change.UsersChangedAsync([id], RevokeReasons.RolesChanged, ct);
            await EventLog.UserEventAsync(db, EventTypes.UserRolesChanged, id, services.Time.GetUtcNow(), ct);
            return 0;
        }, ct);
        return TypedResults.Ok(await ViewAsync(db, id, ct));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Ban(
        BanRequest? body, [AsParameters] AdminServices services, CancellationToken ct)
    {
        body ??= new BanRequest(null, null);
        var (admin, id, db) = (services.Admin, services.Admin.Target.Id, services.Db);
        if (body.Until is { } until && until <= services.Time.GetUtcNow()) return Problems.ValidationFailed("until must be in the future.", "until");
        if (body.Reason is { Length: > 500 }) return Problems.ValidationFailed("reason is too long (at most 500).", "reason");
        if (id == admin.CallerId) return Problems.ValidationFailed("You cannot ban yourself.");
        var banned = await services.Sessions.ChangeAsync(async change =>
        {
            if (await change.LockUserAsync(id, ct) is null) return change.Cancel(false);
            await db.Users.Where(u => u.Id == id)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedUntil, body.Until ?? Forever).SetProperty(u => u.BanReason, body.Reason), ct);
            await change.EndAllAsync(id, RevokeReasons.Banned, ct);
            await EventLog.UserEventAsync(db, EventTypes.UserBanned, id, services.Time.GetUtcNow(), ct, new { until = body.Until });
            services.Audit.Record(AuditTypes.UserBanned, id, new { until = body.Until, reason = body.Reason });
            return true;
        }, ct);
        return banned ? TypedResults.NoContent() : Problems.NotFoundResult();
    }

    private static async Task<NoContent> Unban(
        [AsParameters] AdminServices services, CancellationToken ct)
    {
        var (id, db) = (services.Admin.Target.Id, services.Db);
        await using var tx = await db.Database.BeginTransactionAsync(ct); // the event commits with the change
        if (await db.Users.Where(u => u.Id == id && u.BannedUntil != null)
                .ExecuteUpdateAsync(s => s.SetProperty(u => u.BannedUntil, (DateTimeOffset?)null).SetProperty(u => u.BanReason, (string?)null), ct) > 0)
            await EventLog.UserEventAsync(db, EventTypes.UserUnbanned, id, services.Time.GetUtcNow(), ct);
        await services.Audit.RecordAsync(AuditTypes.UserUnbanned, id, null, ct);
        await tx.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<NoContent> LogoutAll(
        [AsParameters] AdminServices services, CancellationToken ct)
    {
        var id = services.Admin.Target.Id;
        await services.Sessions.ChangeAsync(async change =>
        {
            var ended = await change.EndAllAsync(id, RevokeReasons.Kicked, ct);
            services.Audit.Record(AuditTypes.UserLogoutAll, id, new { sessions = ended });
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
