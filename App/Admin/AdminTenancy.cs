using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Admin;

/// <summary>
/// The tenancy rule, in one place. Every /admin route acts inside the caller's own tenant; only a platform admin
/// (tenant <c>system</c> with <c>platform:admin</c>) may name another with <c>?tenant=</c>, and anyone else's
/// <c>?tenant=</c> is ignored. A tenant or user outside that answers 404, exactly as if it did not exist. A user
/// is managed (changed, banned, kicked, deleted) only by an admin holding every permission the user holds.
/// </summary>
public static class AdminTenancy
{
    /// <summary>Group filter on /admin: resolves the tenant once per request.</summary>
    public static async ValueTask<object?> ResolveTenantAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var caller = http.User;
        var tenantId = caller.TenantIdOf();
        var named = http.Request.Query["tenant"].ToString();
        if (!string.IsNullOrWhiteSpace(named) && caller.IsPlatformAdmin())
        {
            var db = http.RequestServices.GetRequiredService<AppDbContext>();
            var slug = named.Trim().ToLowerInvariant();
            var found = await db.Tenants.AsNoTracking().Where(t => t.Slug == slug).Select(t => (Guid?)t.Id).FirstOrDefaultAsync(http.RequestAborted);
            if (found is null) return Problems.NotFoundResult();
            tenantId = found.Value;
        }
        http.RequestServices.GetRequiredService<AdminContext>().SetTenant(caller, tenantId);
        return await next(context);
    }

    /// <summary>Filter on /admin/users/{id}: the user must be in the request's tenant.</summary>
    public static async ValueTask<object?> ResolveTargetUserAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!Guid.TryParse(http.GetRouteValue("id")?.ToString(), out var id)) return Problems.NotFoundResult();
        var admin = http.RequestServices.GetRequiredService<AdminContext>();
        var db = http.RequestServices.GetRequiredService<AppDbContext>();
        var user = await db.Users.AsNoTracking().Where(u => u.Id == id && u.TenantId == admin.TenantId)
            .Select(u => new { u.Id, u.Username, u.NormalizedUsername, Slug = u.Tenant!.Slug }).FirstOrDefaultAsync(http.RequestAborted);
        if (user is null) return Problems.NotFoundResult();
        var held = await (from ur in db.UserRoles
                          join r in db.Roles on ur.RoleId equals r.Id
                          where ur.UserId == id
                          select r.Permissions).ToListAsync(http.RequestAborted);
        admin.SetTarget(new TargetUser(user.Id, user.Username, user.NormalizedUsername, user.Slug,
            [.. held.SelectMany(p => p).Distinct(StringComparer.Ordinal)]));
        return await next(context);
    }

    /// <summary>Whether the caller may manage <paramref name="userId"/> (holds every permission the user holds).</summary>
    public static async Task<bool> MayManageAsync(AdminContext admin, Guid userId, AppDbContext db, CancellationToken ct)
    {
        if (admin.IsPlatformAdmin) return true;
        var held = await (from ur in db.UserRoles
                          join r in db.Roles on ur.RoleId equals r.Id
                          where ur.UserId == userId
                          select r.Permissions).ToListAsync(ct);
        return admin.MayGrant(held.SelectMany(p => p));
    }

    /// <summary>Filter for routes that change the target user: the caller must hold what the user holds (403 otherwise).</summary>
    public static async ValueTask<object?> RequireManageAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var admin = context.HttpContext.RequestServices.GetRequiredService<AdminContext>();
        return admin.MayGrant(admin.Target.Permissions) ? await next(context) : Forbidden();
    }

    /// <summary>A tenant named in a path (its slug): a tenant admin may only name its own; any other answers 404.</summary>
    public static bool MayActOn(AdminContext admin, string slug) =>
        admin.IsPlatformAdmin || string.Equals(slug, admin.Caller.FindFirstValue(SessionClaims.Tenant), StringComparison.Ordinal);

    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Forbidden() =>
        Problems.Result(StatusCodes.Status403Forbidden, Problems.Forbidden, "You may only manage users whose permissions you hold yourself.");
}
