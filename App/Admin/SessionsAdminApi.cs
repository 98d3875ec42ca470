using Microsoft.AspNetCore.Mvc;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Admin;

public sealed record OnlineUserView(Guid UserId, string Username, int Sessions, DateTimeOffset LastSeenAt);

public sealed record AdminSessionView(Guid Id, Guid UserId, string Username, [property: OneOf(typeof(DeviceTypes), nameof(DeviceTypes.All))] string DeviceType, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt, string? Ip);

internal static class SessionsAdminApi
{
    // Counting stops here, so a page costs the same however many sessions are online.
    private const int TotalCap = 10_000;

    private const string Keyset = "Keyset cursor: the `next` of the previous page. The page then starts after it, costs the same however deep it is, and `page` is ignored.";

    // GET    /admin/sessions        sessions:read
    // GET    /admin/online-users    sessions:read
    // DELETE /admin/sessions/{id}   sessions:kick
    public static void MapAdminSessions(this RouteGroupBuilder admin)
    {
        var sessions = admin.MapGroup("/sessions").WithTags("Admin: sessions");
        sessions.MapGet("/", List).RequireAuthorization(Permissions.SessionsRead).WithName("ListSessions")
            .WithSummary($"Online sessions, newest first, paged from an index (total counts up to {TotalCap}).").ProducesProblems(400, Problems.Validation)
            .WithProblemExample(Problems.Validation, PageQuery.SizeProblem);
        admin.MapGet("/online-users", OnlineUsers).WithTags("Admin: sessions").RequireAuthorization(Permissions.SessionsRead).WithName("ListOnlineUsers")
            .WithSummary($"One row per user with a live session: how many, and when last seen. Paged from an index (total counts up to {TotalCap}); pass `next` back as `after`.")
            .ProducesProblems(400, Problems.Validation).WithProblemExample(Problems.Validation, PageQuery.SizeProblem);
        sessions.MapDelete("/{id:guid}", Kick).RequireAuthorization(Permissions.SessionsKick).WithName("KickSession")
            .WithSummary("Kick one session; its client then gets session-revoked with reason kicked.").ProducesProblems(404, Problems.NotFound);
    }

    private static async Task<Results<Ok<Paged<AdminSessionView>>, ProblemHttpResult>> List(
        [AsParameters] AdminServices services, [FromQuery(Name = "user_id"), Description("Only the sessions of this user.")] Guid? userId,
        [AsParameters] PageQuery paging, [FromQuery, Description(Keyset)] Guid? after, CancellationToken ct)
    {
        if (paging.Validate(out var p, out var s) is { } invalid) return invalid;
        var (tenantId, db) = (services.Admin.TenantId, services.Db);
        var query = db.Sessions.AsNoTracking().Where(x => x.TenantId == tenantId).Where(SessionReader.IsLive(services.Time.GetUtcNow()));
        if (userId is { } uid) query = query.Where(x => x.UserId == uid);
        var total = await query.Take(TotalCap).LongCountAsync(ct);
        // Newest first: session ids are version-7 UUIDs, so id order is creation order.
        var ordered = query.OrderByDescending(x => x.Id);
        var window = after is { } cursor ? ordered.Where(x => x.Id.CompareTo(cursor) < 0).Take(s) : ordered.Skip((p - 1) * s).Take(s);
        var items = await (from x in window
                           join u in db.Users on x.UserId equals u.Id
                           orderby x.Id descending
                           select new AdminSessionView(x.Id, x.UserId, u.Username, x.DeviceType, x.CreatedAt, x.LastSeenAt, x.Ip))
            .ToListAsync(ct);
        return TypedResults.Ok(new Paged<AdminSessionView>(items, p, s, total, items.Count == s ? items[^1].Id.ToString() : null));
    }

    private static async Task<Results<Ok<Paged<OnlineUserView>>, ProblemHttpResult>> OnlineUsers(
        [AsParameters] AdminServices services, [AsParameters] PageQuery paging, [FromQuery, Description(Keyset)] Guid? after, CancellationToken ct)
    {
        if (paging.Validate(out var p, out var s) is { } invalid) return invalid;
        var (tenantId, db) = (services.Admin.TenantId, services.Db);
        var live = db.Sessions.AsNoTracking().Where(x => x.TenantId == tenantId).Where(SessionReader.IsLive(services.Time.GetUtcNow()));
        var total = await live.Select(x => x.UserId).Distinct().Take(TotalCap).LongCountAsync(ct);
        var users = live.Where(x => after == null || x.UserId.CompareTo(after.Value) > 0)
            .GroupBy(x => x.UserId)
            .Select(g => new { UserId = g.Key, Sessions = g.Count(), LastSeenAt = g.Max(x => x.LastSeenAt) })
            .OrderBy(g => g.UserId);
        var window = after is null ? users.Skip((p - 1) * s).Take(s) : users.Take(s);
        var items = await (from g in window
                           join u in db.Users on g.UserId equals u.Id
                           orderby g.UserId
                           select new OnlineUserView(g.UserId, u.Username, g.Sessions, g.LastSeenAt)).ToListAsync(ct);
        return TypedResults.Ok(new Paged<OnlineUserView>(items, p, s, total, items.Count == s ? items[^1].UserId.ToString() : null));
    }

    private static async Task<Results<NoContent, ProblemHttpResult>> Kick(
        [Description("The session's id (from GET /admin/sessions).")] Guid id, [AsParameters] AdminServices services, CancellationToken ct)
    {
        var (tenantId, db) = (services.Admin.TenantId, services.Db);
        // Any session of the tenant, ended or not: a retried kick succeeds and repairs Redis again.
        var target = await db.Sessions.AsNoTracking().Where(x => x.Id == id && x.TenantId == tenantId)
            .Select(x => new { x.UserId }).FirstOrDefaultAsync(ct);
        if (target is null) return AdminApi.NotFound();
        // The owner is managed like any user (a session whose user is gone has no permissions left to guard).
        if (await AdminTenancy.FindUserAsync(db, tenantId, target.UserId, ct) is { } owner && !services.Admin.MayManage(owner)) return AdminTenancy.Forbidden();
        await services.Sessions.ChangeAsync(async change =>
        {
            var n = await change.RevokeAsync(x => x.Id == id && x.TenantId == tenantId, RevokeReasons.Kicked, ct);
            // A retry (the session had ended already) ends nothing, but tells Redis again: audited as what it is.
            var type = n > 0 ? AuditTypes.SessionKicked : AuditTypes.SessionKickRetried;
            if (n == 0) n = await change.RemirrorAsync(x => x.Id == id && x.TenantId == tenantId, ct);
            services.Audit.Record(type, target.UserId, new { session_id = id });
            return n;
        }, ct);
        return TypedResults.NoContent();
    }
}
