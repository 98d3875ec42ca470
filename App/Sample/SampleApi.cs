using SessionGate.Sessions;

namespace SessionGate.Sample;

public sealed record ProfileResponse(Guid UserId, string Username, string Tenant, string[] Roles);

public sealed record ReportsResponse(string Tenant, string[] Reports);

/// <summary>Sample protected endpoints: what a service hosted inside SessionGate looks like.</summary>
public static class SampleApi
{
    // GET /api/profile   any authenticated caller
    // GET /api/reports   reports:read
    public static RouteGroupBuilder MapSampleApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Sample API").RequireAuthorization();
        group.MapGet("/profile", Profile).WithName("Profile").WithSummary("Any authenticated caller.");
        group.MapGet("/reports", Reports).RequireAuthorization(Permissions.ReportsRead).WithName("Reports").WithSummary("Needs permission reports:read.");
        return group;
    }

    private static Ok<ProfileResponse> Profile(ClaimsPrincipal user) =>
        TypedResults.Ok(new ProfileResponse(user.UserId(), user.FindFirstValue(SessionClaims.Name)!, user.FindFirstValue(SessionClaims.Tenant)!, user.RolesOf()));

    private static Ok<ReportsResponse> Reports(ClaimsPrincipal user) =>
        TypedResults.Ok(new ReportsResponse(user.FindFirstValue(SessionClaims.Tenant)!, ["sessions-by-device", "logins-per-day"]));
}
