namespace SessionGate.Audit;

/// <summary>
/// Who acts, in which tenant, from which address: captured once per request (by the /admin tenancy filter, or by
/// <see cref="AuditContextFilter.CapturesAuditContext"/> on a self-service group), so an audit call names only what
/// happened and to whom (<see cref="AuditLog.Record"/>).
/// </summary>
public sealed class AuditContext
{
    private bool _captured;
    private Guid? _actorId;
    private Guid? _tenantId;
    private string? _ip;

    public Guid? ActorId => Captured()._actorId;
    public Guid? TenantId => Captured()._tenantId;
    public string? Ip => Captured()._ip;

    /// <summary>The signed-in caller (none when anonymous), acting in <paramref name="tenantId"/> or else its own tenant.</summary>
    public void Capture(HttpContext http, Guid? tenantId = null)
    {
        var caller = http.User;
        _actorId = Guid.TryParse(caller.FindFirstValue(SessionClaims.Subject), out var actor) ? actor : null;
        _tenantId = tenantId ?? (Guid.TryParse(caller.FindFirstValue(SessionClaims.TenantId), out var own) ? own : null);
        _ip = ClientAddress.Of(http);
        _captured = true;
    }

    private AuditContext Captured() =>
        _captured ? this : throw new InvalidOperationException("No audit context: the route's group must capture it (CapturesAuditContext).");
}

/// <summary>The group filter that captures the <see cref="AuditContext"/> of a self-service request.</summary>
public static class AuditContextFilter
{
    public static TBuilder CapturesAuditContext<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(static (context, next) =>
        {
            context.HttpContext.RequestServices.GetRequiredService<AuditContext>().Capture(context.HttpContext);
            return next(context);
        });
}
