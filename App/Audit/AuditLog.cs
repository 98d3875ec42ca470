using System.Text.Json;
using SessionGate.Data;

namespace SessionGate.Audit;

/// <summary>Appends audit events in PostgreSQL. The detail is a small object and never holds a secret.</summary>
public sealed class AuditLog(AppDbContext db, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Adds an event to the current unit of work; it is saved with the change it records.</summary>
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
