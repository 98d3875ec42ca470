using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Tokens;

namespace SessionGate.Sessions;

/// <summary>
/// A self-contained access JWT (roles and permissions inside) and a rotating refresh token. Each request makes
/// one MGET on the user's slot: the user's security version, the session's revocation and the jti's.
/// </summary>
public sealed class BlacklistMode(
    AppDbContext db,
    RedisStore redis,
    TokenService tokens,
    JwtCredentials credentials,
    TimeProvider time,
    IOptions<JwtOptions> jwtOptions) : IAuthMode
{
    private static readonly TimeSpan UserStateTtl = TimeSpan.FromDays(1);
    private readonly JwtOptions _jwt = jwtOptions.Value;

    public bool AcceptsCookie => false;

    public Task<IssuedCredential> IssueAsync(Session session, SessionSnapshot s, long securityVersion, CancellationToken ct) =>
        credentials.IssueAsync(session, new Dictionary<string, object>
        {
            [SessionClaims.Subject] = s.UserId.ToString(),
            [SessionClaims.TenantId] = s.TenantId.ToString(),
            [SessionClaims.Tenant] = s.Tenant,
            [SessionClaims.Name] = s.Username,
            [SessionClaims.SessionId] = s.SessionId.ToString(),
            [SessionClaims.Device] = s.DeviceType,
            [SessionClaims.Role] = s.Roles,
            [SessionClaims.Permission] = s.Permissions,
            [SessionClaims.Version] = securityVersion,
            [SessionClaims.CreatedAt] = s.CreatedAt.ToUnixTimeSeconds(),
            [SessionClaims.ExpiresAt] = s.AbsoluteExpiresAt.ToUnixTimeSeconds(),
        }, ct);

    public Task AfterIssueAsync(Session session, SessionSnapshot snapshot, long securityVersion, CancellationToken ct) =>
        redis.SetUserStateIfNewerAsync(session.UserId, new UserState(securityVersion, null), UserStateTtl);

    public async Task<AuthOutcome> AuthenticateAsync(string credential, bool databaseOnly, CancellationToken ct)
    {
        var jwt = await tokens.ValidateAccessTokenAsync(credential, ct);
        if (jwt is null || !TryRead(jwt, out var snapshot, out var jti, out var version)) return AuthOutcome.Unknown;

        if (!databaseOnly)
        {
            var (state, sessionRevoked, jtiRevoked) = await redis.GetTokenStateAsync(snapshot.UserId, snapshot.SessionId, jti);
            if (state is not null) return Decide(snapshot, jti, version, state, sessionRevoked, jtiRevoked, time.GetUtcNow());
        }

        // Redis lost the user's state (flush, restart, expiry) or is down: PostgreSQL decides, and Redis is re-warmed.
        var user = await db.Users.AsNoTracking().Where(u => u.Id == snapshot.UserId)
            .Select(u => new { u.SecurityVersion, u.LastRevokeReason }).FirstOrDefaultAsync(ct);
        var session = await db.Sessions.AsNoTracking().Where(s => s.Id == snapshot.SessionId && s.UserId == snapshot.UserId)
            .Select(s => new { s.RevokedAt, s.RevokeReason, s.AbsoluteExpiresAt }).FirstOrDefaultAsync(ct);
        if (user is null || session is null) return AuthOutcome.Unknown;
        var revokedJti = await db.RevokedTokens.AsNoTracking().Where(r => r.Jti == jti).Select(r => r.Reason).FirstOrDefaultAsync(ct);
        var dbState = new UserState(user.SecurityVersion, user.LastRevokeReason);
        var sessionReason = session.RevokedAt is null ? null : session.RevokeReason ?? RevokeReasons.Kicked;
        if (!databaseOnly)
        {
            await redis.SetUserStateIfNewerAsync(snapshot.UserId, dbState, UserStateTtl);
            if (sessionReason is not null) await redis.RevokeSessionAsync(snapshot.UserId, snapshot.SessionId, sessionReason, RevocationTtl);
            if (revokedJti is not null) await redis.RevokeJtiAsync(snapshot.UserId, jti, revokedJti, RevocationTtl);
        }
        return Decide(snapshot, jti, version, dbState, sessionReason, revokedJti, time.GetUtcNow());
    }

    private static AuthOutcome Decide(SessionSnapshot snapshot, string jti, long version, UserState state, string? sessionRevoked, string? jtiRevoked, DateTimeOffset now)
    {
        if (now >= snapshot.AbsoluteExpiresAt) return AuthOutcome.Revoked(RevokeReasons.Expired);
        if (jtiRevoked is not null) return AuthOutcome.Revoked(jtiRevoked);
        if (sessionRevoked is not null) return AuthOutcome.Revoked(sessionRevoked);
        if (version < state.Version) return AuthOutcome.Revoked(state.Reason ?? RevokeReasons.RolesChanged);
        return AuthOutcome.Ok(snapshot, jti);
    }

    public Task<RefreshOutcome> RefreshAsync(string refreshToken, string? ip, CancellationToken ct) =>
        credentials.RotateAsync(this, refreshToken, ip, ct);

    // Outlives every access token of a revoked session (their life plus the clock skew).
    private TimeSpan RevocationTtl => _jwt.AccessTokenLifetime + _jwt.ClockSkew + TimeSpan.FromSeconds(5);

    public async Task MirrorRevokedAsync(IReadOnlyList<Session> sessions, string reason, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        foreach (var s in sessions)
        {
            await redis.RevokeSessionAsync(s.UserId, s.Id, reason, RevocationTtl);
            if (s.CurrentJti is not null && s.CurrentJtiExpiresAt > now)
                await redis.RevokeJtiAsync(s.UserId, s.CurrentJti, reason, s.CurrentJtiExpiresAt.Value - now + _jwt.ClockSkew);
        }
    }

    public Task MirrorUserChangedAsync(Guid userId, long version, string reason, IReadOnlyList<(Session Session, SessionSnapshot Snapshot)> live, CancellationToken ct) =>
        redis.SetUserStateIfNewerAsync(userId, new UserState(version, reason), UserStateTtl);

    private static bool TryRead(JsonWebToken jwt, out SessionSnapshot snapshot, out string jti, out long version)
    {
        snapshot = null!;
        jti = jwt.Id;
        version = 0;
        if (string.IsNullOrEmpty(jti) || jti.Length > 64
            || !Guid.TryParse(jwt.Subject, out var userId)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.SessionId, out var sid) || !Guid.TryParse(sid, out var sessionId)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.TenantId, out var tid) || !Guid.TryParse(tid, out var tenantId)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.Tenant, out var tenant)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.Name, out var name)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.Device, out var device)
            || !jwt.TryGetPayloadValue(SessionClaims.Version, out version)
            || !jwt.TryGetPayloadValue<long>(SessionClaims.CreatedAt, out var created)
            || !jwt.TryGetPayloadValue<long>(SessionClaims.ExpiresAt, out var expires))
            return false;
        var roles = jwt.Claims.Where(c => c.Type == SessionClaims.Role).Select(c => c.Value).ToArray();
        var permissions = jwt.Claims.Where(c => c.Type == SessionClaims.Permission).Select(c => c.Value).ToArray();
        var exp = new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero);
        snapshot = new SessionSnapshot(userId, tenantId, tenant, name, sessionId, device, roles, permissions,
            DateTimeOffset.FromUnixTimeSeconds(created), DateTimeOffset.FromUnixTimeSeconds(expires), exp, exp, version);
        return true;
    }
}
