using SessionGate.Audit;
using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>
/// Refresh-token rotation (JWT modes). A token is spent on use; presenting a spent one revokes its family (its
/// session). The session row is locked while the new pair is minted, so a revocation racing the refresh either
/// committed first (and the refresh fails) or waits and then blacklists the token minted here.
/// </summary>
public sealed class RefreshService(
    AppDbContext db,
    IAuthMode mode,
    SessionService sessions,
    SessionSecrets secrets,
    AuditLog audit,
    TimeProvider time,
    IOptions<SessionLifetimeOptions> options,
    Observability.SessionGateMetrics metrics)
{
    public enum Result { Rotated, Invalid, NotSupported }

    public sealed record Outcome(Result Result, IssuedCredential? Credential = null)
    {
        public static readonly Outcome Invalid = new(Result.Invalid);
        internal static readonly Outcome Reused = new(Result.Invalid);
    }

    public async Task<Outcome> RotateAsync(string presented, string? ip, CancellationToken ct)
    {
        if (!mode.UsesRefreshTokens) return new Outcome(Result.NotSupported);
        if (!secrets.IsGenuine(presented)) return Outcome.Invalid;
        var hash = SessionSecrets.Hash(presented);
        var token = await db.RefreshTokens.AsNoTracking().FirstOrDefaultAsync(r => r.TokenHash == hash, ct);
        if (token is null) return Outcome.Invalid;
        if (token.ConsumedAt is not null)
        {
            await ReuseDetectedAsync(token, ip, ct);
            return Outcome.Invalid;
        }
        var now = time.GetUtcNow();
        if (now >= token.IdleExpiresAt || now >= token.ExpiresAt) return Outcome.Invalid;

        Session? session = null;
        SessionSnapshot? snapshot = null;
        var outcome = await sessions.ChangeAsync(async change =>
        {
            session = (await db.Sessions.FromSql($"""SELECT * FROM sessions WHERE "Id" = {token.SessionId} FOR UPDATE""").ToListAsync(ct)).FirstOrDefault();
            if (session is null || session.RevokedAt is not null || now >= session.AbsoluteExpiresAt || now >= session.IdleExpiresAt)
                return change.Cancel(Outcome.Invalid);
            // Spend the token: of two concurrent refreshes, only one gets the row; the other is a reuse.
            var claimed = await db.RefreshTokens.Where(r => r.Id == token.Id && r.ConsumedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.ConsumedAt, now), ct);
            if (claimed == 0) return change.Cancel(Outcome.Reused);
            var user = await db.Users.AsNoTracking().Where(u => u.Id == session.UserId)
                .Select(u => new { u.Username, u.SecurityVersion, u.BannedUntil, u.SessionEpoch, Tenant = u.Tenant!.Slug }).FirstOrDefaultAsync(ct);
            // A kick-all ends the session before the relay writes its row: the epochs say so meanwhile.
            if (user is null || user.BannedUntil > now || session.UserEpoch != user.SessionEpoch) return change.Cancel(Outcome.Invalid);

            session.LastSeenAt = now;
            session.IdleExpiresAt = options.Value.NextIdleExpiry(now, session.AbsoluteExpiresAt);
            (var identity, snapshot) = await SessionReader.LoadIdentityAsync(db, session, user.Username, user.Tenant, user.SecurityVersion, ct);
            return new Outcome(Result.Rotated, await mode.IssueAsync(db, session, identity, user.SecurityVersion, ct));
        }, ct);

        if (ReferenceEquals(outcome, Outcome.Reused))
        {
            await ReuseDetectedAsync(token, ip, ct);
            return Outcome.Invalid;
        }
        if (outcome.Result == Result.Rotated)
        {
            try
            {
                await mode.AfterIssueAsync(session!, snapshot!, ct);
            }
            catch (Exception e) when (DependencyHealth.IsTransient(e))
            {
                // Only a warm-up: the next request rebuilds the entry from PostgreSQL.
            }
        }
        return outcome;
    }

    /// <summary>
    /// Logout with the refresh token alone (JWT modes): ends the live session the token belongs to. False for a token
    /// that is unknown, expired or whose session already ended, and for a spent one, which, as on refresh, also ends
    /// its family (theft detection does not depend on the endpoint).
    /// </summary>
    public async Task<bool> EndSessionAsync(string presented, string? ip, CancellationToken ct)
    {
        if (!mode.UsesRefreshTokens || !secrets.IsGenuine(presented)) return false;
        var hash = SessionSecrets.Hash(presented);
        var token = await db.RefreshTokens.AsNoTracking().FirstOrDefaultAsync(r => r.TokenHash == hash, ct);
        if (token is null) return false;
        if (token.ConsumedAt is not null)
        {
            await ReuseDetectedAsync(token, ip, ct);
            return false;
        }
        var now = time.GetUtcNow();
        if (now >= token.IdleExpiresAt || now >= token.ExpiresAt) return false;
        var sessionId = token.SessionId;
        var ended = await sessions.ChangeAsync(async change =>
        {
            var n = await change.RevokeAsync(s => s.Id == sessionId && s.UserId == token.UserId && s.RevokedAt == null
                && s.IdleExpiresAt > now && s.AbsoluteExpiresAt > now && s.UserEpoch == s.User!.SessionEpoch, RevokeReasons.LoggedOut, ct);
            if (n > 0)
            {
                var tenantId = await db.Sessions.Where(s => s.Id == sessionId).Select(s => s.TenantId).FirstAsync(ct);
                audit.Add(AuditTypes.Logout, token.UserId, token.UserId, tenantId, ip, new { session_id = sessionId, by = "refresh_token" });
            }
            return n;
        }, ct);
        return ended > 0;
    }

    private async Task ReuseDetectedAsync(RefreshToken token, string? ip, CancellationToken ct)
    {
        metrics.Refresh("reused");
        var sessionId = token.SessionId;
        var tenantId = await db.Sessions.Where(s => s.Id == sessionId).Select(s => (Guid?)s.TenantId).FirstOrDefaultAsync(ct);
        await sessions.ChangeAsync(async change =>
        {
            audit.Add(AuditTypes.RefreshTokenReused, null, token.UserId, tenantId, ip, new { session_id = sessionId });
            return await change.RevokeAsync(s => s.Id == sessionId, RevokeReasons.RefreshReused, ct);
        }, ct);
    }
}
