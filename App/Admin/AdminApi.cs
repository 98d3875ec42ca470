using System.Security.Claims;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Admin;

/// <summary>
/// /admin: users, roles, sessions, audit, tenants and keys. Every route acts inside the caller's own tenant;
/// only a platform admin may name another with <c>?tenant=</c>. Other tenants' objects answer 404.
/// </summary>
public static partial class AdminApi
{
    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/admin").RequireAuthorization().ProducesProblem(400).ProducesProblem(401).ProducesProblem(403).ProducesProblem(404);
        admin.MapAdminUsers();
        admin.MapAdminRoles();
        admin.MapAdminSessions();
        admin.MapAdminAudit();
        admin.MapAdminTenants();
        admin.MapAdminKeys();
        return admin;
    }

    /// <summary>
    /// The tenant an admin request acts in: always the caller's own, unless a platform admin names another.
    /// A tenant named by anyone else is ignored; null means the named tenant does not exist.
    /// </summary>
    internal static async Task<Guid?> ResolveTenantAsync(ClaimsPrincipal user, string? tenant, AppDbContext db, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(tenant) || !user.IsPlatformAdmin()) return user.TenantIdOf();
        var slug = tenant.Trim().ToLowerInvariant();
        return await db.Tenants.Where(t => t.Slug == slug).Select(t => (Guid?)t.Id).FirstOrDefaultAsync(ct);
    }

    /// <summary>
    /// No escalation: an admin grants only permissions it holds itself, and manages only users whose permissions
    /// it holds too (so a helpdesk account cannot make itself an admin or reset an admin's password). The
    /// platform admin is above this rule.
    /// </summary>
    internal static bool MayGrant(ClaimsPrincipal caller, IEnumerable<string> permissions)
    {
        if (caller.IsPlatformAdmin()) return true;
        var held = caller.PermissionsOf().ToHashSet(StringComparer.Ordinal);
        return permissions.All(held.Contains);
    }

    internal static async Task<bool> MayManageAsync(ClaimsPrincipal caller, Guid userId, AppDbContext db, CancellationToken ct)
    {
        if (caller.IsPlatformAdmin()) return true;
        var held = await (from ur in db.UserRoles
                          join r in db.Roles on ur.RoleId equals r.Id
                          where ur.UserId == userId
                          select r.Permissions).ToListAsync(ct);
        return MayGrant(caller, held.SelectMany(p => p));
    }

    internal static ProblemHttpResult Forbidden() => Problems.Result(StatusCodes.Status403Forbidden, Problems.Forbidden);

    internal static string? ValidatePage(int? page, int? size, out int p, out int s)
    {
        p = page ?? 1;
        s = size ?? 20;
        if (p < 1 || p > 100_000) return "page must be between 1 and 100000.";
        if (s < 1 || s > 100) return "size must be between 1 and 100.";
        return null;
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")]
    internal static partial Regex UsernamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    internal static partial Regex RoleNamePattern();


    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,62}$")]
    internal static partial Regex SlugPattern();

    internal static ProblemHttpResult NotFound() => Problems.NotFoundResult();
}

/// <summary>
/// A page. Lists that can grow with the number of online sessions also hand out <see cref="Next"/>: pass it back as
/// <c>after</c> for the next page, which then costs the same however deep it is (keyset paging, not OFFSET).
/// </summary>
public sealed record Paged<T>(IReadOnlyList<T> Items, int Page, int Size, long Total,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Next = null);
