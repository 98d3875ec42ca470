using SessionGate.Data;
using SessionGate.Tokens;

namespace SessionGate.Sessions;

/// <summary>
/// The JWT modes' shared half of issuing: an access JWT plus an opaque refresh token (MAC'd like a session id)
/// whose family is its session. Rotation itself is <see cref="RefreshService"/>.
/// </summary>
public sealed class JwtCredentials(TokenService tokens, SessionSecrets secrets, TimeProvider time, IOptions<SessionLifetimeOptions> sessionOptions)
{
    private readonly SessionLifetimeOptions _options = sessionOptions.Value;

    /// <summary>Mints the pair inside the caller's transaction; the session row records the newest access token's jti.</summary>
    public async Task<IssuedCredential> IssueAsync(AppDbContext db, Session session, Dictionary<string, object> claims, CancellationToken ct)
    {
        var jti = TokenService.NewId();
        claims[SessionClaims.Jti] = jti;
        var (accessToken, expiresAt) = await tokens.CreateAccessTokenAsync(claims, session.AbsoluteExpiresAt, ct);
        session.CurrentJti = jti;
        session.CurrentJtiExpiresAt = expiresAt;

        var now = time.GetUtcNow();
        var refresh = secrets.New();
        var refreshToken = new RefreshToken
        {
            TokenHash = SessionSecrets.Hash(refresh),
            SessionId = session.Id,
            UserId = session.UserId,
            CreatedAt = now,
            IdleExpiresAt = _options.NextIdleExpiry(now, session.AbsoluteExpiresAt),
            ExpiresAt = session.AbsoluteExpiresAt,
        };
        db.RefreshTokens.Add(refreshToken);
        return new IssuedCredential(accessToken, expiresAt, refresh, refreshToken.IdleExpiresAt, session.AbsoluteExpiresAt, session.IdleExpiresAt);
    }
}
