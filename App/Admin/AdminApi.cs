using System.Text.RegularExpressions;

namespace SessionGate.Admin;

/// <summary>
/// /admin: users, roles, sessions, audit, tenants and keys. Every route acts inside the tenant that
/// <see cref="AdminTenancy"/> resolved (the caller's own unless a platform admin names another); other tenants'
/// objects answer 404.
/// </summary>
public static partial class AdminApi
{
    public static RouteGroupBuilder MapAdminApi(this IEndpointRouteBuilder app)
    {
        // Authorization first, then the tenancy rule (AdminTenancy) resolves the tenant once for every route below;
        // a platform admin's ?tenant= naming no tenant is 404 on every route.
        var admin = app.MapGroup("/admin").RequireAuthorization().AddEndpointFilter(AdminTenancy.ResolveTenantAsync)
            .ProducesProblems(404, Problems.NotFound);
        admin.MapAdminUsers();
        admin.MapAdminRoles();
        admin.MapAdminSessions();
        admin.MapAdminAudit();
        admin.MapAdminTenants();
        admin.MapAdminKeys();
        admin.MapAdminMfa();
        admin.MapAdminWebhooks();
        return admin;
    }

    /// <summary>A grant (of a role or permission) beyond what the caller holds.</summary>
    internal static ProblemHttpResult Forbidden() =>
        Problems.Result(StatusCodes.Status403Forbidden, Problems.Forbidden, "You may only grant permissions you hold yourself.");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")]
    internal static partial Regex UsernamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9_-]{0,63}$")]
    internal static partial Regex RoleNamePattern();

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,62}$")]
    internal static partial Regex SlugPattern();

    internal static ProblemHttpResult NotFound() => Problems.NotFoundResult();
}
