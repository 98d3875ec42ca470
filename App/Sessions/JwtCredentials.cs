using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Admin;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Tokens;

namespace SessionGate.Sessions;

/// <summary>
/// The JWT modes' shared half: an access JWT plus an opaque refresh token that rotates on every use. A refresh
/// token's family is its session; presenting a spent token revokes the session and so the whole family.
/// </summary>
public sealed class JwtCredentials(
    AppDbContext db,
    TokenService tokens,
    TimeProvider time,
    IOptions<SessionLifetimeOptions> sessionOptions,
    IServiceProvider services,
    AuditLog audit)
{
    private readonly SessionLifetimeOptions _options = sessionOptions.Value;

    public async Task<IssuedCredential> IssueAsync(Session session, Dictionary<string, object> claims, CancellationToken ct)
    {
        var jti = TokenService.NewId();
        claims["jti"] = jti;
        var (accessToken, expiresAt) = await tokens.CreateAccessTokenAsync(claims, session.AbsoluteExpiresAt, ct);
        session.CurrentJti = jti;
        session.CurrentJtiExpiresAt = expiresAt;

        var now = time.GetUtcNow();
        var refresh = Secrets.New();
        var refreshToken = new RefreshToken
        {
            TokenHash = Secrets.Hash(refresh),
            SessionId = session.Id,
            UserId = session.UserId,
            CreatedAt = now,
            IdleExpiresAt = _options.NextIdleExpiry(now, session.AbsoluteExpiresAt),
            ExpiresAt = session.AbsoluteExpiresAt,
        };
        db.RefreshTokens.Add(refreshToken);
        var body = new LoginResponse
        {
            TokenType = "Bearer",
            AccessToken = accessToken,
            ExpiresIn = (int)Math.Round((expiresAt - now).TotalSeconds),
            RefreshToken = refresh,
            RefreshExpiresIn = (int)Math.Round((refreshToken.IdleExpiresAt - now).TotalSeconds),
        };
        return new IssuedCredential(body, null, null);
    }

    public async Task<RefreshOutcome> RotateAsync(IAuthMode mode, string presented, string? ip, CancellationToken ct)
    {
        if (!Secrets.IsWellFormed(presented)) return RefreshOutcome.Invalid;
        var hash = Secrets.Hash(presented);
        var now = time.GetUtcNow();
        var token = await db.RefreshTokens.AsNoTracking().FirstOrDefaultAsync(r => r.TokenHash == hash, ct);
        if (token is null) return RefreshOutcome.Invalid;
        if (token.ConsumedAt is not null)
        {
            await ReuseDetectedAsync(token, ip, ct);
            return RefreshOutcome.Invalid;
        }
        if (now >= token.IdleExpiresAt || now >= token.ExpiresAt) return RefreshOutcome.Invalid;

        // Spend the token atomically: of two concurrent refreshes, only one gets the row.
        var claimed = await db.RefreshTokens.Where(r => r.Id == token.Id && r.ConsumedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.ConsumedAt, now), ct);
        if (claimed == 0)
        {
            await ReuseDetectedAsync(token, ip, ct);
            return RefreshOutcome.Invalid;
        }

        var session = await db.Sessions.FirstOrDefaultAsync(s => s.Id == token.SessionId, ct);
        if (session is null || session.RevokedAt is not null || now >= session.AbsoluteExpiresAt || now >= session.IdleExpiresAt)
            return RefreshOutcome.Invalid;
        var user = await db.Users.AsNoTracking().Include(u => u.Tenant).FirstAsync(u => u.Id == session.UserId, ct);
        if (user.BannedUntil > now) return RefreshOutcome.Invalid;

        session.LastSeenAt = now;
        session.IdleExpiresAt = _options.NextIdleExpiry(now, session.AbsoluteExpiresAt);
        var sessions = services.GetRequiredService<SessionService>();
        var roles = await sessions.LoadRoleSetsAsync([user.Id], ct);
        var snapshot = SessionService.ToSnapshot(session, user.Username, user.Tenant!.Slug, roles.GetValueOrDefault(user.Id, SessionService.RoleSet.Empty), user.SecurityVersion);
        var credential = await mode.IssueAsync(session, snapshot, user.SecurityVersion, ct);
        await db.SaveChangesAsync(ct);
        await mode.AfterIssueAsync(session, snapshot, user.SecurityVersion, ct);
        return new RefreshOutcome(credential, null);
    }

    private async Task ReuseDetectedAsync(RefreshToken token, string? ip, CancellationToken ct)
    {
        var sessions = services.GetRequiredService<SessionService>();
        var sessionId = token.SessionId;
        await sessions.RevokeAsync(s => s.Id == sessionId, RevokeReasons.Kicked, ct);
        var tenantId = await db.Sessions.Where(s => s.Id == sessionId).Select(s => (Guid?)s.TenantId).FirstOrDefaultAsync(ct);
        await audit.WriteAsync(AuditTypes.RefreshTokenReused, null, token.UserId, tenantId, ip, new { session_id = sessionId }, ct);
    }
}
