using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Admin;

/// <summary>
/// The tenancy rule, in one place. Every /admin route acts inside the caller's own tenant; only a platform admin
/// (tenant <c>system</c> with <c>platform:admin</c>) may name another with <c>?tenant=</c>, and anyone else's
/// <c>?tenant=</c> is ignored. A tenant or user outside that answers 404, exactly as if it did not exist. Whether
/// the caller may manage a user, role or tenant is <see cref="AdminContext.MayManage(TargetUser)"/> and its overloads.
/// </summary>
public static class AdminTenancy
{
    /// <summary>Group filter on /admin: resolves the tenant once per request, and with it the audit context.</summary>
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
        // Every admin event is the caller's, in the tenant the request acts in.
        http.RequestServices.GetRequiredService<AuditContext>().Capture(http, tenantId);
        return await next(context);
    }

    /// <summary>Filter on /admin/users/{id}: the user must be in the request's tenant.</summary>
    public static async ValueTask<object?> ResolveTargetUserAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (!Guid.TryParse(http.GetRouteValue("id")?.ToString(), out var id)) return Problems.NotFoundResult();
        var admin = http.RequestServices.GetRequiredService<AdminContext>();
        var user = await FindUserAsync(http.RequestServices.GetRequiredService<AppDbContext>(), admin.TenantId, id, http.RequestAborted);
        if (user is null) return Problems.NotFoundResult();
        admin.SetTarget(user);
        return await next(context);
    }

    /// <summary>A user of <paramref name="tenantId"/> with the permissions it holds, or null when there is none.</summary>
    public static async Task<TargetUser?> FindUserAsync(AppDbContext db, Guid tenantId, Guid id, CancellationToken ct)
    {
        var user = await db.Users.AsNoTracking().Where(u => u.Id == id && u.TenantId == tenantId)
            .Select(u => new { u.Id, u.Username, u.NormalizedUsername, Slug = u.Tenant!.Slug }).FirstOrDefaultAsync(ct);
        if (user is null) return null;
        var held = await (from ur in db.UserRoles
                          join r in db.Roles on ur.RoleId equals r.Id
                          where ur.UserId == id
                          select r.Permissions).ToListAsync(ct);
        return new TargetUser(user.Id, user.Username, user.NormalizedUsername, user.Slug, [.. held.SelectMany(p => p).Distinct(StringComparer.Ordinal)]);
    }

    /// <summary>Filter for routes that change the target user: the caller must manage it (403 otherwise).</summary>
    public static async ValueTask<object?> RequireManageAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var admin = context.HttpContext.RequestServices.GetRequiredService<AdminContext>();
        return admin.MayManage(admin.Target) ? await next(context) : Forbidden();
    }

    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Forbidden() =>
        Problems.Result(StatusCodes.Status403Forbidden, Problems.Forbidden, "You may only manage users whose permissions you hold yourself.");
}
