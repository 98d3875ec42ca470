using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Security.Claims;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.Gateway;

/// <summary>
/// The internal JWT the gateway hands a downstream: minted once per session and audience, then reused until shortly
/// before it expires. A cached token is reused only while it says exactly what the caller's principal says (roles,
/// permissions, tenant), so a role change gets a new token on the next request. A revoked session never gets here:
/// authentication refuses it first.
/// </summary>
public sealed class InternalTokens(TokenService tokens, IOptions<JwtOptions> jwt, TimeProvider time)
{
    private sealed record Cached(string Token, DateTimeOffset RenewAt, string[] Roles, string[] Permissions, string Tenant);

    private readonly ConcurrentDictionary<(string Sid, string Audience), Cached> _cache = new();
    // The hot path's principal is itself cached (per session, in the L1), so most requests find their token here
    // without reading a claim.
    private readonly ConditionalWeakTable<ClaimsPrincipal, ConcurrentDictionary<string, Cached>> _byPrincipal = new();
    private readonly TimeSpan _lifetime = jwt.Value.InternalTokenLifetime;
    private int _writes;

    public ValueTask<string> GetAsync(ClaimsPrincipal user, string audience, CancellationToken ct)
    {
        if (_byPrincipal.TryGetValue(user, out var mine) && mine.TryGetValue(audience, out var hit) && time.GetUtcNow() < hit.RenewAt)
            return ValueTask.FromResult(hit.Token);
        return GetSlowAsync(user, audience, ct);
    }

    private async ValueTask<string> GetSlowAsync(ClaimsPrincipal user, string audience, CancellationToken ct)
    {
        var sid = user.FindFirstValue(SessionClaims.SessionId)!;
        var roles = user.RolesOf();
        var permissions = user.PermissionsOf();
        var tenant = user.FindFirstValue(SessionClaims.Tenant) ?? "";
        var now = time.GetUtcNow();
        if (_cache.TryGetValue((sid, audience), out var hit) && now < hit.RenewAt && hit.Tenant == tenant
            && hit.Roles.AsSpan().SequenceEqual(roles) && hit.Permissions.AsSpan().SequenceEqual(permissions))
        {
            _byPrincipal.GetOrCreateValue(user)[audience] = hit;
            return hit.Token;
        }

        var token = await tokens.CreateInternalTokenAsync(new Dictionary<string, object>
        {
            [SessionClaims.Subject] = user.FindFirstValue(SessionClaims.Subject)!,
            [SessionClaims.TenantId] = user.FindFirstValue(SessionClaims.TenantId)!,
            [SessionClaims.Role] = roles,
            [SessionClaims.SessionId] = sid,
            [JwtRegisteredClaimNames.Jti] = TokenService.NewId(),
        }, audience, now, now + _lifetime, ct);
        var cached = new Cached(token, now + _lifetime * 0.8, roles, permissions, tenant);
        _cache[(sid, audience)] = cached;
        _byPrincipal.GetOrCreateValue(user)[audience] = cached;
        if (Interlocked.Increment(ref _writes) % 1024 == 0) Sweep(now);
        return token;
    }

    private void Sweep(DateTimeOffset now)
    {
        foreach (var (key, value) in _cache)
        {
            if (now >= value.RenewAt) _cache.TryRemove(new KeyValuePair<(string, string), Cached>(key, value));
        }
    }
}
