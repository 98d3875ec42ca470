using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Tokens;

namespace SessionGate.Sessions;

/// <summary>
/// A self-contained access JWT (roles and permissions inside) and a rotating refresh token. Per request: the
/// signature once per token per instance, then the user's revocations (security version, revoked sessions, revoked
/// jtis) from the L1, else one HGETALL on the user's slot, else PostgreSQL. Whatever Redis loses, the first read
/// that misses rebuilds all of the user's revocations that can still matter, never only the one at hand.
/// </summary>
public sealed class BlacklistMode(IDbContextFactory<AppDbContext> dbs, RedisStore redis, JwtCredentials credentials, TokenService tokens, KeyRing keys,
    LocalCache cache, InvalidationBus bus, UserFloors floors, RedisProof proof, TimeProvider time, IOptions<JwtOptions> jwt,
    Observability.SessionGateMetrics metrics) : IAuthMode
{
    private sealed record TokenState(SessionIdentity Identity, AuthOutcome Outcome, string Jti, long Version);

    private readonly JwtOptions _jwt = jwt.Value;
    private readonly TimeSpan _revocationLife = RevocationLife(jwt.Value);
    private readonly VerifiedTokens<TokenState> _verified = new(tokens, keys, time, cache, bus);
    private readonly LocalMap<Guid, UserRevocations> _local = cache.CreateMap<Guid, UserRevocations>("user_revocations");
    private readonly LocalMap<Guid, string> _revokedSessions = Tombstones(cache, bus, RevocationLife(jwt.Value));

    // A revocation matters while a token issued before it can still be presented: its life plus the clock skew.
    private static TimeSpan RevocationLife(JwtOptions jwt) => jwt.AccessTokenLifetime + jwt.ClockSkew;

    // Tombstones announced by whoever revoked: remembered for as long as a token of the session can live.
    private static LocalMap<Guid, string> Tombstones(LocalCache cache, InvalidationBus bus, TimeSpan life)
    {
        var map = cache.CreateMap<Guid, string>("revoked_sessions", life);
        bus.On<SessionTombstone>(t => map.FillFinal(t.SessionId, t.Reason));
        return map;
    }

    public bool AcceptsCookie => false;

    public bool UsesRefreshTokens => true;

    public Task<IssuedCredential> IssueAsync(AppDbContext db, Session session, SessionIdentity s, long securityVersion, CancellationToken ct) =>
        credentials.IssueAsync(db, session, new Dictionary<string, object>
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
            // The session's assurance rides in the token like its roles: a step-up shows in the next token.
            [SessionClaims.Acr] = s.AssuranceOrDefault.Acr,
            [SessionClaims.Amr] = s.AssuranceOrDefault.Amr,
            [SessionClaims.AuthTime] = s.AssuranceOrDefault.AuthTime.ToUnixTimeSeconds(),
            [SessionClaims.MfaEnrollment] = s.AssuranceOrDefault.EnrollmentOnly,
        }, ct);

    // Nothing to warm: writing the user's state here would mark it complete without its revocations.
    public Task AfterIssueAsync(Session session, SessionSnapshot snapshot, CancellationToken ct) => Task.CompletedTask;

    public async ValueTask<AuthOutcome> AuthenticateAsync(string credential, bool databaseOnly, CancellationToken ct)
    {
        var token = await _verified.GetAsync(credential, Read, ct);
        if (token is null) return AuthOutcome.Unknown;
        if (!databaseOnly && _revokedSessions.TryGet(token.Identity.SessionId, out var ended)) return AuthOutcome.Revoked(ended);
        var userId = token.Identity.UserId;
        if (!databaseOnly && floors.Refuses(userId, token.Version) is { } floored) return AuthOutcome.Revoked(floored);
        if (!databaseOnly)
        {
            // Changes Redis has not proven it holds (it may have lost them, or refused them) win over its answer.
            var judged = proof.Pending.Judge(userId, token.Identity.SessionId, token.Version, token.Jti);
            if (judged.Verdict == PendingVerdict.Revoked || judged is { Verdict: PendingVerdict.Stale, Reason: not null })
                return AuthOutcome.Revoked(judged.Reason!);
            if (judged.Verdict == PendingVerdict.Stale) databaseOnly = true; // a version no row states: PostgreSQL decides
        }

        UserRevocations? state;
        if (databaseOnly)
        {
            state = await LoadAsync(userId, ct);
        }
        else if (!_local.TryGet(userId, out state))
        {
            var sequence = cache.Sequence;
            using (metrics.Time("redis", "get_user_revocations")) state = await redis.GetUserRevocationsAsync(userId);
            if (state is null)
            {
                var truth = await LoadAsync(userId, ct);
                if (truth is null) return AuthOutcome.Unknown;
                try
                {
                    await redis.RebuildUserRevocationsAsync(userId, truth.Version, truth.Reason,
                        truth.Entries.Select(e => KeyValuePair.Create(e.Key, $"{e.Value.Reason}|{e.Value.Until}")), _revocationLife + TimeSpan.FromMinutes(1), time.GetUtcNow());
                }
                catch (StackExchange.Redis.RedisServerException)
                {
                    // Redis answers but refuses writes (maxmemory, MISCONF): PostgreSQL's answer stands for this request.
                    return Decide(token, truth);
                }
                // Revocations that landed meanwhile were merged in Redis: decide on the merged state.
                state = await redis.GetUserRevocationsAsync(userId) ?? truth;
            }
            _local.Fill(userId, state, userId, sequence);
        }
        return state is null ? AuthOutcome.Unknown : Decide(token, state);
    }

    private AuthOutcome Decide(TokenState token, UserRevocations state)
    {
        var now = time.GetUtcNow();
        if (now >= token.Identity.AbsoluteExpiresAt) return AuthOutcome.Revoked(RevokeReasons.Expired);
        if (state.Find(UserRevocations.JtiField(token.Jti), now) is { } jti) return AuthOutcome.Revoked(jti);
        if (state.Find(UserRevocations.SessionField(token.Identity.SessionId), now) is { } session) return AuthOutcome.Revoked(session);
        if (token.Version < state.Version) return AuthOutcome.Revoked(state.Reason ?? RevokeReasons.RolesChanged);
        return token.Outcome;
    }

    /// <summary>Everything PostgreSQL knows that can still refuse one of the user's tokens. Null for an unknown user.</summary>
    private async Task<UserRevocations?> LoadAsync(Guid userId, CancellationToken ct)
    {
        using var timer = metrics.Time("postgres", "load_user_revocations");
        await using var db = await dbs.CreateDbContextAsync(ct);
        var now = time.GetUtcNow();
        var user = await db.Users.AsNoTracking().Where(u => u.Id == userId)
            .Select(u => new { u.SecurityVersion, u.LastRevokeReason }).FirstOrDefaultAsync(ct);
        if (user is null) return null;
        var since = now - _revocationLife;
        var sessions = await db.Sessions.AsNoTracking().Where(s => s.UserId == userId && s.RevokedAt != null && s.RevokedAt > since)
            .Select(s => new { s.Id, s.RevokeReason, s.RevokedAt }).ToListAsync(ct);
        var jtis = await db.RevokedTokens.AsNoTracking().Where(r => r.UserId == userId && r.ExpiresAt > now)
            .Select(r => new { r.Jti, r.Reason, r.ExpiresAt }).ToListAsync(ct);
        var entries = new Dictionary<string, (string, long)>(StringComparer.Ordinal);
        foreach (var s in sessions)
            entries[UserRevocations.SessionField(s.Id)] = (s.RevokeReason ?? RevokeReasons.Kicked, (s.RevokedAt!.Value + _revocationLife).ToUnixTimeMilliseconds());
        foreach (var j in jtis) entries[UserRevocations.JtiField(j.Jti)] = (j.Reason, j.ExpiresAt.ToUnixTimeMilliseconds());
        return new UserRevocations { Version = user.SecurityVersion, Reason = user.LastRevokeReason, Entries = entries };
    }

    public async Task ApplyAsync(RevocationEvent change, ISet<Guid> usersToInvalidate, CancellationToken ct)
    {
        switch (change)
        {
            case SessionsRevoked revoked:
                var now = time.GetUtcNow();
                var until = now + _revocationLife;
                await Task.WhenAll(revoked.Sessions.GroupBy(s => s.UserId).Select(user =>
                {
                    var fields = new List<KeyValuePair<string, string>>();
                    foreach (var s in user)
                    {
                        fields.Add(KeyValuePair.Create(UserRevocations.SessionField(s.Id), UserRevocations.Value(revoked.Reason, until)));
                        if (s.Jti is not null && s.JtiExpiresAt > now)
                            fields.Add(KeyValuePair.Create(UserRevocations.JtiField(s.Jti), UserRevocations.Value(revoked.Reason, s.JtiExpiresAt.Value + _jwt.ClockSkew)));
                    }
                    return redis.AddUserRevocationsAsync(user.Key, fields, _revocationLife + TimeSpan.FromMinutes(1));
                }));
                usersToInvalidate.UnionWith(revoked.Sessions.Select(s => s.UserId));
                break;
            case UsersChanged users:
                await RaiseVersionsAsync(users.Users, ct);
                usersToInvalidate.UnionWith(users.Users);
                break;
            case UserSessionsEnded all:
                // Every token below the new version dies; the sessions' own fields are not needed for that.
                await redis.RaiseUserVersionAsync(all.UserId, all.Version, all.Reason);
                usersToInvalidate.Add(all.UserId);
                break;
            case RolesChanged roles:
                // Permissions ride in the token: the holders' versions moved, so their old tokens die.
                await RaiseVersionsAsync(roles.Users, ct);
                usersToInvalidate.UnionWith(roles.Users);
                break;
        }
    }

    private async Task RaiseVersionsAsync(Guid[] users, CancellationToken ct)
    {
        if (users.Length == 0) return;
        await using var db = await dbs.CreateDbContextAsync(ct);
        var versions = await db.Users.AsNoTracking().Where(u => users.Contains(u.Id))
            .Select(u => new { u.Id, u.SecurityVersion, u.LastRevokeReason }).ToListAsync(ct);
        await Task.WhenAll(versions.Select(v => redis.RaiseUserVersionAsync(v.Id, v.SecurityVersion, v.LastRevokeReason ?? RevokeReasons.RolesChanged)));
    }

    private static TokenState? Read(JsonWebToken jwt)
    {
        var jti = jwt.Id;
        if (string.IsNullOrEmpty(jti) || jti.Length > 64
            || !Guid.TryParse(jwt.Subject, out var userId)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.SessionId, out var sid) || !Guid.TryParse(sid, out var sessionId)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.TenantId, out var tid) || !Guid.TryParse(tid, out var tenantId)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.Tenant, out var tenant)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.Name, out var name)
            || !jwt.TryGetPayloadValue<string>(SessionClaims.Device, out var device)
            || !jwt.TryGetPayloadValue<long>(SessionClaims.Version, out var version)
            || !jwt.TryGetPayloadValue<long>(SessionClaims.ExpiresAt, out var expires))
            return null;
        // Tokens minted before second factors carry the session's start as auth_time and no assurance: a password then.
        SessionAssurance? assurance = null;
        if (!jwt.TryGetPayloadValue<long>(SessionClaims.CreatedAt, out var created))
        {
            if (!jwt.TryGetPayloadValue(SessionClaims.AuthTime, out created)) return null;
        }
        else if (jwt.TryGetPayloadValue<long>(SessionClaims.AuthTime, out var authTime))
        {
            var amr = jwt.Claims.Where(c => c.Type == SessionClaims.Amr).Select(c => c.Value).ToArray();
            var methods = SessionAssurance.Parse(amr);
            assurance = new SessionAssurance(methods == AuthMethods.None ? AuthMethods.Password : methods, DateTimeOffset.FromUnixTimeSeconds(authTime),
                jwt.TryGetPayloadValue<bool>(SessionClaims.MfaEnrollment, out var enrolling) && enrolling);
        }
        var roles = jwt.Claims.Where(c => c.Type == SessionClaims.Role).Select(c => c.Value).ToArray();
        var permissions = jwt.Claims.Where(c => c.Type == SessionClaims.Permission).Select(c => c.Value).ToArray();
        var identity = new SessionIdentity(userId, tenantId, tenant, name, sessionId, device, roles, permissions,
            DateTimeOffset.FromUnixTimeSeconds(created), DateTimeOffset.FromUnixTimeSeconds(expires), assurance);
        return new TokenState(identity, AuthOutcome.Success(identity.ToPrincipal(jti)), jti, version);
    }
}
