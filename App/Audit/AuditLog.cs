using SessionGate.Data;

namespace SessionGate.Audit;

/// <summary>Appends audit events in PostgreSQL. The detail is a small object and never holds a secret.</summary>
public sealed class AuditLog(AppDbContext db, TimeProvider time, AuditContext request)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>
    /// Adds an event by the request's caller, in its tenant, from its address (<see cref="AuditContext"/>), to the
    /// current unit of work; <paramref name="tenantId"/> only for an event about another tenant than the request's.
    /// </summary>
    public void Record(string type, Guid? subjectId = null, object? detail = null, Guid? tenantId = null) =>
        Add(type, request.ActorId, subjectId, tenantId ?? request.TenantId, request.Ip, detail);

    /// <summary><see cref="Record"/>, saved at once.</summary>
    public async Task RecordAsync(string type, Guid? subjectId, object? detail, CancellationToken ct)
    {
        Record(type, subjectId, detail);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>Adds an event to the current unit of work; it is saved with the change it records.</summary>
    /// <remarks>For work that is no caller's request (login, refresh, background jobs): every field is given.</remarks>
    public void Add(string type, Guid? actorId, Guid? subjectId, Guid? tenantId, string? ip, object? detail = null) =>
        db.AuditEvents.Add(new AuditEvent
        {
            Type = type,
            ActorId = actorId,
            SubjectId = subjectId,
            TenantId = tenantId,
            Ip = ip,
            At = time.GetUtcNow(),
            Detail = detail is null ? null : JsonSerializer.Serialize(detail, Json),
        });

    public async Task WriteAsync(string type, Guid? actorId, Guid? subjectId, Guid? tenantId, string? ip, object? detail, CancellationToken ct)
    {
        Add(type, actorId, subjectId, tenantId, ip, detail);
        await db.SaveChangesAsync(ct);
    }
}
