using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>The step-up rule's facts: the caller's factors (one query) and its tenant's policy.</summary>
public sealed class StepUpPolicy(AppDbContext db, Factors factors, IOptions<MfaOptions> options) : IStepUpPolicy
{
    public TimeSpan MaxAge => options.Value.StepUpMaxAge;

    public async Task<bool> NeedsSecondFactorAsync(ClaimsPrincipal caller, bool policyCounts, CancellationToken ct) =>
        await factors.HasAnyAsync(caller.UserId(), ct) || (policyCounts && await MfaPolicies.RequiresAsync(db, caller, ct));
}
