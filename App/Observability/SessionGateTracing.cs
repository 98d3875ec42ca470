using System.Diagnostics;

namespace SessionGate.Observability;

/// <summary>
/// SessionGate's spans (authenticate, login, refresh, revoke, gateway) on one <see cref="ActivitySource"/>. Spans
/// carry ids (user, public session id, tenant) and outcomes, never a credential.
/// </summary>
public static class SessionGateTracing
{
    public const string SourceName = "SessionGate";

    public static readonly ActivitySource Source = new(SourceName);
}
