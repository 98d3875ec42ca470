using System.Text.Json.Serialization;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Admin;

public sealed record RoleView(string Name, [property: OneOf(typeof(Permissions), nameof(Permissions.All))] string[] Permissions);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateRoleRequest(string? Name, [property: OneOf(typeof(Permissions), nameof(Permissions.All))] string[]? Permissions);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SetPermissionsRequest([property: OneOf(typeof(Permissions), nameof(Permissions.All))] string[]? Permissions);

internal static class RolesApi
{
    private const string RoleName = "The role's name (from GET /admin/roles).";
    private const string UnknownPermission = "Unknown permission 'users:delete'. GET /admin/permissions lists them.";

    // GET    /admin/roles          roles:write
    // POST   /admin/roles          roles:write
    // PUT    /admin/roles/{name}   roles:write  (every holder sees it on the next request)
    // DELETE /admin/roles/{name}   roles:write
    public static void MapAdminRoles(this RouteGroupBuilder admin)
    {
        var roles = admin.MapGroup("/roles").WithTags("Admin: roles");
        roles.MapGet("/", List).RequireAuthorization(Permissions.RolesList).WithName("ListRoles").WithSummary("Roles of the tenant with their permissions (roles:read or roles:write).");
        roles.MapPost("/", Create).RequireAuthorization(Permissions.RolesWrite).RequireStepUp().WithName("CreateRole").WithSummary("Create a role.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(409, Problems.Conflict)
            .WithProblemExample(Problems.Validation, UnknownPermission).WithProblemExample(Problems.Conflict, "A role with this name exists.")
            .WithRequestExample(new { name = "support", permissions = new[] { Permissions.UsersRead, Permissions.SessionsRead } });
        roles.MapPut("/{name}", SetPermissions).RequireAuthorization(Permissions.RolesWrite).RequireStepUp().WithName("SetRolePermissions")
            .WithSummary("Replace a role's permissions; every holder sees them on the next request.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(404, Problems.NotFound)
            .WithProblemExample(Problems.Validation, UnknownPermission).WithRequestExample(new { permissions = new[] { Permissions.ReportsRead } });
        roles.MapDelete("/{name}", Delete).RequireAuthorization(Permissions.RolesWrite).RequireStepUp().WithName("DeleteRole").WithSummary("Delete a role; its holders lose it on the next request.")
            .ProducesProblems(404, Problems.NotFound);
        admin.MapGet("/permissions", ListPermissions).WithTags("Admin: roles").RequireAuthorization(Permissions.AnyAdmin).WithName("ListPermissions")
            .WithSummary("The permission strings a role may hold.");
    }

    private static Ok<string[]> ListPermissions() => TypedResults.Ok(Permissions.All);

    private static async Task<Results<Ok<List<RoleView>>, ProblemHttpResult>> List(
        [AsParameters] AdminServices services, CancellationToken ct)
    {
        var tenantId = services.Admin.TenantId;
        var roles = await services.Db.Roles.AsNoTracking().Where(r => r.TenantId == tenantId).OrderBy(r => r.Name)
            .Select(r => new RoleView(r.Name, r.Permissions.ToArray())).ToListAsync(ct);
        return TypedResults.Ok(roles);
    }

    private static async Task<Results<Created<RoleView>, ProblemHttpResult>> Create(
        CreateRoleRequest? body, [AsParameters] AdminServices services, CancellationToken ct)
    {
        var db = services.Db;
        if (body is null || string.IsNullOrWhiteSpace(body.Name)) return Problems.ValidationFailed("name is required.");
        var name = body.Name.Trim().ToLowerInvariant();
        if (!AdminApi.RoleNamePattern().IsMatch(name)) return Problems.ValidationFailed("name may hold a-z, 0-9, _ and - (at most 64).", "name");
        var tenantId = services.Admin.TenantId;
        // A downstream may trust a role called platform-admin: only the system tenant may have one.
        if (name.StartsWith(Permissions.ReservedRolePrefix, StringComparison.Ordinal)
            && !await db.Tenants.AnyAsync(t => t.Id == tenantId && t.Slug == Permissions.PlatformTenant, ct))
            return Problems.ValidationFailed($"Role names starting with '{Permissions.ReservedRolePrefix}' are reserved to the system tenant.", "name");
        if (await ValidatePermissionsAsync(db, tenantId, body.Permissions ?? [], ct) is { } invalid) return Problems.ValidationFailed(invalid, "permissions");
        if (!services.Admin.MayManage(body.Permissions ?? [])) return AdminApi.Forbidden();

        var permissions = Normalize(body.Permissions ?? []);
        db.Roles.Add(new Role { TenantId = tenantId, Name = name, Permissions = permissions, CreatedAt = services.Time.GetUtcNow() });
        services.Audit.Record(AuditTypes.RoleCreated, detail: new { role = name, permissions });
        await db.SaveChangesAsync(ct); // a taken name is a unique violation: 409 conflict
        return TypedResults.Created($"/admin/roles/{name}", new RoleView(name, [.. permissions]));
    }

    private static async Task<Results<Ok<RoleView>, ProblemHttpResult>> SetPermissions(
        [Description(RoleName)] string name, SetPermissionsRequest? body, [AsParameters] AdminServices services, CancellationToken ct)
    {
        if (body?.Permissions is null) return Problems.ValidationFailed("permissions is required.");
        var (tenantId, db) = (services.Admin.TenantId, services.Db);
        if (await ValidatePermissionsAsync(db, tenantId, body.Permissions, ct) is { } invalid) return Problems.ValidationFailed(invalid, "permissions");
        var key = name.ToLowerInvariant();
        var role = await db.Roles.FirstOrDefaultAsync(r => r.TenantId == tenantId && r.Name == key, ct);
        if (role is null) return AdminApi.NotFound();
        if (!services.Admin.MayManage(role.Permissions.Concat(body.Permissions))) return AdminApi.Forbidden();

        role.Permissions = Normalize(body.Permissions);
        services.Audit.Record(AuditTypes.RolePermissionsChanged, detail: new { role = role.Name, permissions = role.Permissions });
        await services.Sessions.ChangeAsync(async change =>
        {
            var holders = await db.UserRoles.Where(ur => ur.RoleId == role.Id).Select(ur => ur.UserId).ToListAsync(ct);
            await change.RolesChangedAsync(tenantId, holders, ct);
            return 0;
        }, ct);
        return TypedResults.Ok(new RoleView(role.Name, [.. role.Permissions]));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        [Description(RoleName)] string name, [AsParameters] AdminServices services, CancellationToken ct)
    {
        var (tenantId, db) = (services.Admin.TenantId, services.Db);
        var key = name.ToLowerInvariant();
        var role = await db.Roles.FirstOrDefaultAsync(r => r.TenantId == tenantId && r.Name == key, ct);
        if (role is null) return AdminApi.NotFound();
        if (!services.Admin.MayManage(role.Permissions)) return AdminApi.Forbidden();
        await services.Sessions.ChangeAsync(async change =>
        {
            var holders = await db.UserRoles.Where(ur => ur.RoleId == role.Id).Select(ur => ur.UserId).ToListAsync(ct);
            await db.Roles.Where(r => r.Id == role.Id).ExecuteDeleteAsync(ct);
            services.Audit.Record(AuditTypes.RoleDeleted, detail: new { role = role.Name });
            // The holders' entries still name the role: rewrite them as well as the role set.
            await change.RolesChangedAsync(tenantId, holders, ct);
            await change.UsersChangedAsync(holders, RevokeReasons.RolesChanged, ct);
            return 0;
        }, ct);
        return TypedResults.NoContent();
    }

    private static async Task<string?> ValidatePermissionsAsync(AppDbContext db, Guid tenantId, string[] permissions, CancellationToken ct)
    {
        if (permissions.Length > 100) return "At most 100 permissions.";
        foreach (var p in permissions)
        {
            // Checked before anything else, for every caller: an unknown permission is bad input, not a lack of rights.
            if (p is null || !Permissions.All.Contains(p, StringComparer.Ordinal))
                return $"Unknown permission '{LogText.Safe(p, 64)}'. GET /admin/permissions lists them.";
        }
        // Only the platform tenant's roles may carry platform:admin.
        if (permissions.Contains(Permissions.PlatformAdmin)
            && !await db.Tenants.AnyAsync(t => t.Id == tenantId && t.Slug == Permissions.PlatformTenant, ct))
            return "platform:admin can only be granted in the system tenant.";
        return null;
    }

    private static List<string> Normalize(string[] permissions) => permissions.Distinct().Order(StringComparer.Ordinal).ToList();
}
