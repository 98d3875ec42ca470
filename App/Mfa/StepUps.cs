using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

public enum StepUpResult { Raised, Malformed, WrongCode, TooManyAttempts, SessionEnded, NoFactor }

/// <summary>How a step-up ended; Credential (JWT modes) is a new pair carrying the raised assurance.</summary>
public sealed record StepUpOutcome(StepUpResult Result, SessionAssurance? Assurance = null, IssuedCredential? Credential = null,
    string? Detail = null, TimeSpan? RetryAfter = null);

/// <summary>
/// POST /auth/step-up: a proof of a second factor raises the current session to aal2 with a new auth_time, without a new
/// session. PostgreSQL's row is raised first; then the Redis entry is rewritten (<see cref="AssuranceWriter"/>). In the
/// JWT modes the access token carries the assurance, so the step-up answers with a new pair, issued the way a refresh
/// issues one (the session's other refresh tokens are spent: reusing one then ends the session, as any reuse does).
/// </summary>
public sealed class StepUps(
    AppDbContext db,
    Factors factors,
    ProofVerifier verifier,
    CodeAttempts attempts,
    SessionService sessions,
    IAuthMode mode,
    AssuranceWriter writer,
    AuditLog audit,
    MfaMetrics metrics,
    TimeProvider time)
{
    public async Task<StepUpOutcome> StepUpAsync(ClaimsPrincipal caller, FactorProof proof, string? ip, ClientNetwork network, string? presentedDevice, CancellationToken ct)
    {
        if (ProofVerifier.Shape(proof).Problem is { } problem) return new StepUpOutcome(StepUpResult.Malformed, Detail: problem);
        var (userId, sessionId, tenantId) = (caller.UserId(), caller.SessionIdOf(), caller.TenantIdOf());
        if (!await factors.HasAnyAsync(userId, ct)) return new StepUpOutcome(StepUpResult.NoFactor, Detail: "You have no second factor to prove; enrol one first.");
        var account = await db.Users.AsNoTracking().Where(u => u.Id == userId)
            .Select(u => new { u.NormalizedUsername, Slug = u.Tenant!.Slug }).FirstOrDefaultAsync(ct);
        if (account is null) return new StepUpOutcome(StepUpResult.SessionEnded);

        var attempt = await attempts.BeginAsync(account.Slug, account.NormalizedUsername, network, presentedDevice);
        if (attempt.RetryAfter is { } retry) return new StepUpOutcome(StepUpResult.TooManyAttempts, RetryAfter: retry);
        var counted = false;
        var succeeded = false;
        try
        {
            var proved = await verifier.VerifyAsync(userId, tenantId, proof, CeremonyPurpose.StepUp, Binding(sessionId), ip, ct);
            if (!proved.Verified)
            {
                counted = true;
                return new StepUpOutcome(StepUpResult.WrongCode);
            }
            succeeded = true;
            var now = time.GetUtcNow();
            var raised = await RaiseAsync(userId, sessionId, proved.Proved, now, ct);
            if (raised.Result != StepUpResult.Raised) return raised;
            await writer.MirrorAsync(userId, s => s.Id == sessionId, ct);
            metrics.Event("step-up", proved.Method);
            await audit.WriteAsync(MfaAuditTypes.StepUp, userId, userId, tenantId, ip, new { session_id = sessionId, method = proved.Method }, ct);
            return raised;
        }
        finally
        {
            if (!counted) await (succeeded ? attempts.SucceededAsync(attempt) : attempts.AbandonAsync(attempt));
        }
    }

    /// <summary>What a step-up ceremony is bound to: the session it raises.</summary>
    public static string Binding(Guid sessionId) => sessionId.ToString("N");

    private async Task<StepUpOutcome> RaiseAsync(Guid userId, Guid sessionId, AuthMethods proved, DateTimeOffset now, CancellationToken ct)
    {
        if (!mode.UsesRefreshTokens)
        {
            var row = await db.Sessions.FirstOrDefaultAsync(s => s.Id == sessionId && s.UserId == userId && s.RevokedAt == null, ct);
            if (row is null) return new StepUpOutcome(StepUpResult.SessionEnded);
            var assurance = SessionAssurance.Of(row).With(proved | AuthMethods.MultiFactor, now);
            assurance.WriteTo(row);
            await db.SaveChangesAsync(ct);
            return new StepUpOutcome(StepUpResult.Raised, assurance);
        }
        SessionAssurance? raised = null;
        Session? locked = null;
        SessionSnapshot? snapshot = null;
        var credential = await sessions.ChangeAsync(async change =>
        {
            // Locked like a refresh locks it: a revocation racing this either committed first or sees the new token.
            locked = (await db.Sessions.FromSql($"""SELECT * FROM sessions WHERE "Id" = {sessionId} FOR UPDATE""").ToListAsync(ct)).FirstOrDefault();
            var user = await db.Users.AsNoTracking().Where(u => u.Id == userId)
                .Select(u => new { u.Username, u.SecurityVersion, u.SessionEpoch, Tenant = u.Tenant!.Slug }).FirstOrDefaultAsync(ct);
            if (locked is null || user is null || locked.UserId != userId || locked.RevokedAt is not null || locked.UserEpoch != user.SessionEpoch
                || now >= locked.AbsoluteExpiresAt || now >= locked.IdleExpiresAt)
                return change.Cancel<IssuedCredential?>(null);
            raised = SessionAssurance.Of(locked).With(proved | AuthMethods.MultiFactor, now);
            raised.WriteTo(locked);
            // The client's refresh token stays good (the contract's step-up raises the session, it rotates nothing):
            // spending it here would make its next refresh a reuse that ends the session. A refresh of either token
            // mints from this row, at the raised assurance; the new pair is offered for the access token's sake.
            (var identity, snapshot) = await SessionReader.LoadIdentityAsync(db, locked, user.Username, user.Tenant, user.SecurityVersion, ct);
            return await mode.IssueAsync(db, locked, identity, user.SecurityVersion, ct);
        }, ct);
        return credential is null ? new StepUpOutcome(StepUpResult.SessionEnded) : new StepUpOutcome(StepUpResult.Raised, raised, credential);
    }
}
