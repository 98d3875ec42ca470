using System.Diagnostics.Metrics;

namespace SessionGate.Mfa;

/// <summary>Second-factor events on SessionGate's meter: <c>sessiongate_mfa_events_total{event,method}</c>.</summary>
public sealed class MfaMetrics
{
    private readonly Counter<long> _events;

    public MfaMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Observability.SessionGateMetrics.MeterName);
        _events = meter.CreateCounter<long>("sessiongate.mfa.events", "{event}",
            "Second-factor events: enrolled, removed, verified, failed, recovery-code-used, reset, step-up; by method (totp, passkey, recovery_code, all).");
    }

    public void Event(string name, string method) =>
        _events.Add(1, new KeyValuePair<string, object?>("event", name), new KeyValuePair<string, object?>("method", method));
}

/// <summary>The audit events of second factors. Their details name the method, never a code, secret or token.</summary>
public static class MfaAuditTypes
{
    public const string TotpEnrolled = "mfa.totp-enrolled";
    public const string TotpRemoved = "mfa.totp-removed";
    public const string RecoveryCodesCreated = "mfa.recovery-codes-created";
    public const string RecoveryCodeUsed = "mfa.recovery-code-used";
    public const string PasskeyAdded = "mfa.passkey-added";
    public const string PasskeyRemoved = "mfa.passkey-removed";
    public const string Verified = "mfa.verified";
    public const string Failed = "mfa.failed";
    public const string StepUp = "mfa.step-up";
    public const string PasskeyLogin = "mfa.passkey-login";
    public const string Reset = "mfa.reset";
    public const string PolicyChanged = "tenant.mfa-policy-changed";
}

/// <summary>The method names of the API (<c>methods</c> of mfa-required, and the metric's label).</summary>
public static class MfaMethods
{
    public const string Totp = "totp";
    public const string Passkey = "passkey";
    public const string RecoveryCode = "recovery_code";
}
