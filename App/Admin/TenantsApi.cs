using System.Text.Json.Serialization;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Admin;

public sealed record TenantView(Guid Id, string Slug, string Name,
    [property: JsonConverter(typeof(JsonStringEnumConverter<LoginPolicy>))] LoginPolicy LoginPolicy, int? MaxSessions,
    [property: JsonConverter(typeof(JsonStringEnumConverter<OnSessionLimit>))] OnSessionLimit OnLimit, DateTimeOffset CreatedAt);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateTenantRequest(string? Slug, string? Name);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record LoginPolicyRequest(
    [property: OneOf(typeof(LoginPolicy)), Description("Multiple: any number of sessions. Single: a login ends the user's other sessions. "
        + "PerDeviceType: a login ends the user's other session of the same device_type. MaxN: at most max_sessions.")] string? Policy,
    [property: Description("For MaxN (required there): 1 to 1000.")] int? MaxSessions,
    [property: OneOf(typeof(OnSessionLimit)), Description("For MaxN, a login over the limit: KickOldest (default) ends the oldest session, "
        + "RejectNew refuses the login with session-limit-reached.")] string? OnLimit);

/// <summary>The login-policy body, as PUT takes it and GET gives it.</summary>
public sealed record LoginPolicyView(
    [property: JsonConverter(typeof(JsonStringEnumConverter<LoginPolicy>))] LoginPolicy Policy, int? MaxSessions,
    [property: JsonConverter(typeof(JsonStringEnumConverter<OnSessionLimit>))] OnSessionLimit OnLimit);

internal static class TenantsApi
{
    // GET  /admin/tenants                       platform:admin
    // POST /admin/tenants                       platform:admin
    // PUT  /admin/tenants/{slug}/login-policy   tenant:write (own tenant; a platform admin any)
    public static void MapAdminTenants(this RouteGroupBuilder admin)
    {
        var tenants = admin.MapGroup("/tenants").WithTags("Admin: tenants");
        tenants.MapGet("/", List).RequireAuthorization(Permissions.PlatformAdmin).WithName("ListTenants").WithSummary("All tenants.");
        tenants.MapPost("/", Create).RequireAuthorization(Permissions.PlatformAdmin).WithName("CreateTenant").WithSummary("Create a tenant.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(409, Problems.Conflict)
            .WithProblemExample(Problems.Conflict, "A tenant with this slug exists.").WithRequestExample(new { slug = "globex", name = "Globex Corporation" });
        tenants.MapGet("/{slug}/login-policy", GetLoginPolicy).RequireAuthorization(Permissions.LoginPolicyRead).WithName("GetLoginPolicy")
            .WithSummary("The tenant's login policy (tenant:write or sessions:read; own tenant, a platform admin any).")
            .ProducesProblems(404, Problems.NotFound);
        tenants.MapPut("/{slug}/login-policy", SetLoginPolicy).RequireAuthorization(Permissions.TenantWrite).RequireStepUp().WithName("SetLoginPolicy")
            .WithSummary("Multiple, Single, PerDeviceType or MaxN (with max_sessions and on_limit KickOldest or RejectNew).")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(404, Problems.NotFound)
            .WithProblemExample(Problems.Validation, "policy must be Multiple, Single, PerDeviceType or MaxN.")
            .WithRequestExample(new { policy = nameof(LoginPolicy.MaxN), max_sessions = 3, on_limit = nameof(OnSessionLimit.KickOldest) });
    }

    private static Ok<List<TenantView>> ToList(List<Tenant> tenants) => TypedResults.Ok(tenants.Select(View).ToList());

    private static TenantView View(Tenant t) =>
        new(t.Id, t.Slug, t.Name, t.LoginPolicy, t.MaxSessions, t.OnLimit, t.CreatedAt);

    private static async Task<Ok<List<TenantView>>> List(AppDbContext db, CancellationToken ct) =>
        ToList(await db.Tenants.AsNoTracking().OrderBy(t => t.Slug).Take(1000).ToListAsync(ct));

    private static async Task<Results<Created<TenantView>, ProblemHttpResult>> Create(
        CreateTenantRequest? body, [AsParameters] AdminServices services, CancellationToken ct)
    {
        if (body is null || string.IsNullOrWhiteSpace(body.Slug) || string.IsNullOrWhiteSpace(body.Name))
            return Problems.ValidationFailed("slug and name are required.");
        var slug = body.Slug.Trim();
        if (!AdminApi.SlugPattern().IsMatch(slug)) return Problems.ValidationFailed("slug may hold a-z, 0-9 and - (2 to 63).");
        if (body.Name.Length > 200) return Problems.ValidationFailed("name is too long (at most 200).");
        var tenant = new Tenant { Slug = slug, Name = body.Name.Trim(), CreatedAt = services.Time.GetUtcNow() };
        services.Db.Tenants.Add(tenant);
        services.Audit.Record(AuditTypes.TenantCreated, detail: new { slug }, tenantId: tenant.Id);
        await services.Db.SaveChangesAsync(ct); // a taken slug is a unique violation: 409 conflict
        return TypedResults.Created($"/admin/tenants/{slug}", View(tenant));
    }

    /// <param name="slug" example="acme">The tenant's slug, such as acme.</param>
    /// <param name="services">The /admin services.</param>
    /// <param name="ct">The request's cancellation.</param>
    private static async Task<Results<Ok<LoginPolicyView>, ProblemHttpResult>> GetLoginPolicy(
        string slug, [AsParameters] AdminServices services, CancellationToken ct)
    {
        if (!services.Admin.MayManageTenant(slug)) return AdminApi.NotFound();
        var tenant = await services.Db.Tenants.AsNoTracking().FirstOrDefaultAsync(t => t.Slug == slug, ct);
        return tenant is null ? AdminApi.NotFound()
            : TypedResults.Ok(new LoginPolicyView(tenant.LoginPolicy, tenant.MaxSessions, tenant.OnLimit));
    }

    /// <param name="slug" example="acme">The tenant's slug, such as acme.</param>
    /// <param name="body">The new policy.</param>
    /// <param name="services">The /admin services.</param>
    /// <param name="ct">The request's cancellation.</param>
    private static async Task<Results<Ok<TenantView>, ProblemHttpResult>> SetLoginPolicy(
        string slug, LoginPolicyRequest? body, [AsParameters] AdminServices services, CancellationToken ct)
    {
        if (body is null || !Enum.TryParse<LoginPolicy>(body.Policy, ignoreCase: false, out var policy) || !Enum.IsDefined(policy) || int.TryParse(body.Policy, out _))
            return Problems.ValidationFailed("policy must be Multiple, Single, PerDeviceType or MaxN.");
        var onLimit = OnSessionLimit.KickOldest;
        if (body.OnLimit is not null && (!Enum.TryParse(body.OnLimit, ignoreCase: false, out onLimit) || !Enum.IsDefined(onLimit) || int.TryParse(body.OnLimit, out _)))
            return Problems.ValidationFailed("on_limit must be KickOldest or RejectNew.");
        if (policy == LoginPolicy.MaxN && body.MaxSessions is not (>= 1 and <= 1000))
            return Problems.ValidationFailed("max_sessions between 1 and 1000 is required for MaxN.");

        if (!services.Admin.MayManageTenant(slug)) return AdminApi.NotFound();
        var tenant = await services.Db.Tenants.FirstOrDefaultAsync(t => t.Slug == slug, ct);
        if (tenant is null) return AdminApi.NotFound();

        tenant.LoginPolicy = policy;
        tenant.MaxSessions = policy == LoginPolicy.MaxN ? body.MaxSessions : null;
        tenant.OnLimit = onLimit;
        services.Audit.Record(AuditTypes.LoginPolicyChanged,
            detail: new { policy = policy.ToString(), max_sessions = tenant.MaxSessions, on_limit = onLimit.ToString() }, tenantId: tenant.Id);
        await services.Db.SaveChangesAsync(ct);
        return TypedResults.Ok(View(tenant));
    }

}
