using Microsoft.AspNetCore.Mvc;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Admin;

public sealed record AuditView(long Id, [property: OneOf(typeof(AuditTypes))] string Type, Guid? ActorId, Guid? SubjectId, string? Tenant, string? Ip, DateTimeOffset At, JsonElement? Detail);

/// <summary>The filters of GET /admin/audit, bound as one <c>[AsParameters]</c> parameter.</summary>
public readonly record struct AuditQuery(
    [property: FromQuery(Name = "user_id"), Description("Only events where this user is the actor or the subject.")] Guid? UserId,
    [property: FromQuery(Name = "type"), Description("Only events of this type."), OneOf(typeof(AuditTypes))] string? Type,
    [property: FromQuery(Name = "after"), Description("The `next` of the previous page: continue after that event.")] long? After,
    [property: FromQuery(Name = "tenantless"), Description("Platform admin only: the events that belong to no tenant, instead of a tenant's.")] bool? Tenantless);

internal static class AuditApi
{
    // Counting stops here, so a page costs the same however long the log is.
    private const int TotalCap = 10_000;

    // GET /admin/audit   audit:read (tenantless=true: platform:admin)
    public static void MapAdminAudit(this RouteGroupBuilder admin) =>
        admin.MapGet("/audit", List).WithTags("Admin: audit").RequireAuthorization(Permissions.AuditRead)
            .WithName("ListAudit")
            .WithSummary("The tenant's audit log, newest first; filter by user_id (actor or subject) and type.")
            .WithDescription($"Paged from an index: `total` counts up to {TotalCap}; pass `next` back as `after` for the next page " +
                "(each costs the same however deep). The platform admin reads events that belong to no tenant (failed logins for " +
                "unknown tenants or names: password spraying) with `tenantless=true`.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(403, Problems.Forbidden)
            .WithProblemExample(Problems.Validation, PageQuery.SizeProblem);

    private static async Task<Results<Ok<Paged<AuditView>>, ProblemHttpResult>> List(
        [AsParameters] AdminServices services, [AsParameters] PageQuery paging, [AsParameters] AuditQuery query, CancellationToken ct)
    {
        var (userId, type, after, tenantless) = query;
        if (paging.Validate(out var p, out var s) is { } invalid) return invalid;
        if (type is { Length: > 64 }) return Problems.ValidationFailed("type is too long.", "type");
        if (after is <= 0) return Problems.ValidationFailed("after must be the next of a previous page.", "after");
        if (tenantless == true && !services.Admin.IsPlatformAdmin)
            return Problems.Result(StatusCodes.Status403Forbidden, Problems.Forbidden, "Only the platform admin reads events that belong to no tenant.",
                new Dictionary<string, object?> { ["required_permissions"] = new[] { Permissions.PlatformAdmin } });
        var db = services.Db;
        Guid? tenantId = tenantless == true ? null : services.Admin.TenantId;
        var events = db.AuditEvents.AsNoTracking().Where(a => a.TenantId == tenantId);
        if (userId is { } uid) events = events.Where(a => a.SubjectId == uid || a.ActorId == uid);
        if (!string.IsNullOrEmpty(type)) events = events.Where(a => a.Type == type);
        var total = await events.Take(TotalCap).LongCountAsync(ct);
        var ordered = events.OrderByDescending(a => a.Id);
        var window = after is { } cursor ? ordered.Where(a => a.Id < cursor).Take(s) : ordered.Skip((p - 1) * s).Take(s);
        var rows = await (from a in window
                          join t in db.Tenants on a.TenantId equals t.Id into tenants
                          from t in tenants.DefaultIfEmpty()
                          orderby a.Id descending
                          select new { a, Slug = t == null ? null : t.Slug }).ToListAsync(ct);
        var items = rows.Select(r => new AuditView(r.a.Id, r.a.Type, r.a.ActorId, r.a.SubjectId, r.Slug, r.a.Ip, r.a.At,
            r.a.Detail is null ? null : JsonDocument.Parse(r.a.Detail).RootElement.Clone())).ToList();
        return TypedResults.Ok(new Paged<AuditView>(items, p, s, total, items.Count == s ? items[^1].Id.ToString(System.Globalization.CultureInfo.InvariantCulture) : null));
    }
}
