using System.Text.Json.Serialization;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Mfa;
using SessionGate.Sessions;

namespace SessionGate.Admin;

/// <summary>Which second factors a user has (GET /admin/users/{id}); never the factors themselves.</summary>
public sealed record UserMfaView(bool Totp, int Passkeys, int RecoveryCodesLeft);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record MfaPolicyRequest(string? Require);

/// <summary>A tenant's second-factor policy: <c>none</c>, <c>admins</c> (holders of an /admin permission) or <c>all</c>.</summary>
public sealed record MfaPolicyView(string Require);

internal static class MfaAdminApi
{
    // DELETE /admin/users/{id}/mfa              users:write (manage), step-up
    // GET    /admin/tenants/{slug}/mfa-policy   tenant:write (own tenant; a platform admin any)
    // PUT    /admin/tenants/{slug}/mfa-policy   tenant:write, step-up
    public static void MapAdminMfa(this RouteGroupBuilder admin)
    {
        var user = admin.MapGroup("/users/{id:guid}").WithTags("Admin: users")
            .AddEndpointFilter(AdminTenancy.ResolveTargetUserAsync).AddEndpointFilter(AdminTenancy.RequireManageAsync)
            .WithRouteValueDescription("id", UsersApi.TargetUserId);
        user.MapDelete("/mfa", Reset).RequireAuthorization(Permissions.UsersWrite).RequireStepUp().WithName("ResetUserMfa")
            .WithSummary("Remove every second factor and recovery code of the user, and end its sessions (audited).");

        var tenants = admin.MapGroup("/tenants").WithTags("Admin: tenants");
        tenants.MapGet("/{slug}/mfa-policy", GetPolicy).RequireAuthorization(Permissions.TenantWrite).WithName("GetMfaPolicy")
            .WithSummary("Who in the tenant must use a second factor: none, admins or all.").ProducesProblems(404, Problems.NotFound);
        tenants.MapPut("/{slug}/mfa-policy", SetPolicy).RequireAuthorization(Permissions.TenantWrite).RequireStepUp().WithName("SetMfaPolicy")
            .WithSummary("Set who must use a second factor: none, admins (holders of an /admin permission) or all. It applies from each user's next login.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(404, Problems.NotFound);
    }

    /// <summary>The factors of a user, as GET /admin/users/{id} shows them.</summary>
    public static async Task<UserMfaView> ViewAsync(Factors factors, Guid userId, CancellationToken ct)
    {
        var s = await factors.SummaryAsync(userId, ct);
        return new UserMfaView(s.Totp, s.Passkeys, s.RecoveryCodesLeft);
    }

    private static async Task<NoContent> Reset(
        [AsParameters] AdminServices services, MfaMetrics metrics, CancellationToken ct)
    {
        var (id, db) = (services.Admin.Target.Id, services.Db);
        await services.Sessions.ChangeAsync(async change =>
        {
            if (await change.LockUserAsync(id, ct) is null) return change.Cancel(0);
            var totp = await db.TotpFactors.Where(t => t.UserId == id).ExecuteDeleteAsync(ct);
            var passkeys = await db.Passkeys.Where(p => p.UserId == id).ExecuteDeleteAsync(ct);
            var codes = await db.RecoveryCodes.Where(r => r.UserId == id).ExecuteDeleteAsync(ct);
            // Whoever holds a session may hold what the factors protected: every session ends with them.
            var ended = await change.EndAllAsync(id, RevokeReasons.Kicked, ct);
            services.Audit.Record(MfaAuditTypes.Reset, id, new { totp = totp > 0, passkeys, recovery_codes = codes, sessions = ended });
            return ended;
        }, ct);
        metrics.Event("reset", "all");
        return TypedResults.NoContent();
    }

    /// <param name="slug" example="acme">The tenant's slug, such as acme.</param>
    /// <param name="services">The /admin services.</param>
    /// <param name="ct">The request's cancellation.</param>
    private static async Task<Results<Ok<MfaPolicyView>, ProblemHttpResult>> GetPolicy(
        string slug, [AsParameters] AdminServices services, CancellationToken ct)
    {
        if (!services.Admin.MayManageTenant(slug)) return AdminApi.NotFound();
        var policy = await services.Db.Tenants.AsNoTracking().Where(t => t.Slug == slug).Select(t => t.MfaPolicy).FirstOrDefaultAsync(ct);
        return policy is null ? AdminApi.NotFound() : TypedResults.Ok(new MfaPolicyView(policy));
    }

    /// <param name="slug" example="acme">The tenant's slug, such as acme.</param>
    /// <param name="body">Who must use a second factor.</param>
    /// <param name="services">The /admin services.</param>
    /// <param name="ct">The request's cancellation.</param>
    private static async Task<Results<Ok<MfaPolicyView>, ProblemHttpResult>> SetPolicy(
        string slug, MfaPolicyRequest? body, [AsParameters] AdminServices services, CancellationToken ct)
    {
        if (body?.Require is not { } require || !MfaPolicies.Values.Contains(require, StringComparer.Ordinal))
            return Problems.ValidationFailed("require must be none, admins or all.", "require");
        if (!services.Admin.MayManageTenant(slug)) return AdminApi.NotFound();
        var tenant = await services.Db.Tenants.FirstOrDefaultAsync(t => t.Slug == slug, ct);
        if (tenant is null) return AdminApi.NotFound();
        var before = tenant.MfaPolicy;
        tenant.MfaPolicy = require;
        services.Audit.Record(MfaAuditTypes.PolicyChanged, detail: new { require, before }, tenantId: tenant.Id);
        await services.Db.SaveChangesAsync(ct);
        return TypedResults.Ok(new MfaPolicyView(require));
    }
}
