namespace SessionGate.Audit;

/// <summary>The append-only audit trail and how long it is kept.</summary>
public static class AuditRegistration
{
    public static IServiceCollection AddAudit(this IServiceCollection services)
    {
        services.AddScoped<AuditLog>();
        services.AddScoped<AuditContext>();
        return AuditOptions.Register(services);
    }
}
