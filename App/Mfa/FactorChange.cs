using SessionGate.Audit;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>
/// What a handler that changes the caller's own second factors works with, bound as one <c>[AsParameters]</c>
/// parameter: the caller, the factors, the audit log (its context captured by the group) and the metrics.
/// </summary>
public readonly record struct FactorChange(ClaimsPrincipal User, Factors Factors, AuditLog Audit, MfaMetrics Metrics)
{
    public Guid UserId => User.UserId();

    /// <summary>A change (or a failed attempt at one) counted in the metrics and written to the audit log.</summary>
    public Task RecordAsync(string metricEvent, string method, string auditType, object? detail, CancellationToken ct)
    {
        Metrics.Event(metricEvent, method);
        return Audit.RecordAsync(auditType, UserId, detail, ct);
    }
}
