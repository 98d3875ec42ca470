using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;

namespace SessionGate.Admin;

public sealed record AuditView(long Id, string Type, Guid? ActorId, Guid? SubjectId, string? Tenant, string? Ip, DateTimeOffset At, JsonElement? Detail);

internal static class AuditApi
{
    // GET /admin/audit   audit:read
    public static void MapAdminAudit(this RouteGroupBuilder admin) =>
        admin.MapGet("/audit", List).WithTags("Admin: audit").RequireAuthorization(Permissions.AuditRead)
            .WithName("ListAudit").WithSummary("The tenant's audit log, newest first; filter by user_id (actor or subject) and type.")
            .ProducesProblems(400, Problems.Validation);

    private static async Task<Results<Ok<Paged<AuditView>>, ProblemHttpResult>> List(
        [AsParameters] AdminScope scope, AppDbContext db, [FromQuery(Name = "user_id")] Guid? userId, [FromQuery] string? type,
        [FromQuery] int? page, [FromQuery] int? size, CancellationToken ct)
    {
        if (AdminApi.ValidatePage(page, size, out var p, out var s) is { } invalid) return invalid;
        if (type is { Length: > 64 }) return Problems.ValidationFailed("type is too long.");
        var tenantId = scope.Admin.TenantId;
        var query = db.AuditEvents.AsNoTracking().Where(a => a.TenantId == tenantId);
        if (userId is { } uid) query = query.Where(a => a.SubjectId == uid || a.ActorId == uid);
        if (!string.IsNullOrEmpty(type)) query = query.Where(a => a.Type == type);
        var total = await query.LongCountAsync(ct);
        var rows = await (from a in query.OrderByDescending(a => a.Id).Skip((p - 1) * s).Take(s)
                          join t in db.Tenants on a.TenantId equals t.Id into tenants
                          from t in tenants.DefaultIfEmpty()
                          select new { a, Slug = t == null ? null : t.Slug }).ToListAsync(ct);
        var items = rows.Select(r => new AuditView(r.a.Id, r.a.Type, r.a.ActorId, r.a.SubjectId, r.Slug, r.a.Ip, r.a.At,
            r.a.Detail is null ? null : JsonDocument.Parse(r.a.Detail).RootElement.Clone())).ToList();
        return TypedResults.Ok(new Paged<AuditView>(items, p, s, total));
    }
}
