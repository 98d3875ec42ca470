using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Caching;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.Gateway;

/// <summary>
/// The internal JWT the gateway hands a downstream. It names the caller in terms a downstream can authorize on
/// without trusting tenant-local role names: <c>sub</c>, <c>tenant_id</c>, <c>tenant</c> (the slug), <c>roles</c>,
/// <c>permissions</c>, <c>sid</c> (the public session id) and a <c>jti</c>.
/// <para>
/// By default one is minted per session and audience and reused until shortly before it expires, and only while
/// it says exactly what the caller's principal says (so a role change gets a new one on the next request). A route
/// marked <c>InternalJwtPerRequest</c> gets a fresh one per forwarded request instead: its own <c>jti</c>, a life
/// of <see cref="JwtOptions.PerRequestTokenLifetime"/> (at most 60 s) and the request's <c>trace_id</c>.
/// A revoked session never gets here: authentication refuses it first.
/// </para>
/// </summary>
public sealed class InternalTokens
{
    private readonly TokenService tokens;
    private readonly TimeProvider time;

    public InternalTokens(TokenService tokens, IOptions<JwtOptions> jwt, TimeProvider time, SessionGate.Caching.InvalidationBus bus)
    {
        this.tokens = tokens;
        this.time = time;
        _lifetime = jwt.Value.InternalTokenLifetime;
        _perRequestLifetime = jwt.Value.PerRequestTokenLifetime;
        // A revoked key takes its tokens with it: mint again with the new one.
        bus.On<KeysInvalidated>(_ =>
        {
            _cache.Clear();
            _byPrincipal.Clear();
        });
    }

    private sealed record Cached(string Token, long RenewAt, string[] Roles, string[] Permissions, string Tenant, string? AuthTime);

    private readonly ConcurrentDictionary<(string Sid, string Audience), Cached> _cache = new();
    // The hot path's principal is itself cached (per session, in the L1), so most requests find their token here
    // without reading a claim.
    private readonly ConditionalWeakTable<ClaimsPrincipal, ConcurrentDictionary<string, Cached>> _byPrincipal = new();
    private readonly TimeSpan _lifetime;
    private readonly TimeSpan _perRequestLifetime;
    private int _writes;

    /// <summary>The token a route's downstream gets: per request or per session, as the rule says.</summary>
    public ValueTask<string> IssueAsync(ClaimsPrincipal user, RouteRule rule, string? traceparent, CancellationToken ct) =>
        rule.PerRequest ? new ValueTask<string>(MintPerRequestAsync(user, rule.Audience, traceparent, ct)) : GetAsync(user, rule.Audience, ct);

    public ValueTask<string> GetAsync(ClaimsPrincipal user, string audience, CancellationToken ct)
    {
        if (_byPrincipal.TryGetValue(user, out var mine) && mine.TryGetValue(audience, out var hit) && Environment.TickCount64 < hit.RenewAt)
            return ValueTask.FromResult(hit.Token);
        return GetSlowAsync(user, audience, ct);
    }

    /// <summary>
    /// A token for this request only, tied to its trace: the current activity's, else the incoming W3C
    /// <c>traceparent</c>'s, else a new trace.
    /// </summary>
    public Task<string> MintPerRequestAsync(ClaimsPrincipal user, string audience, string? traceparent, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var claims = Claims(user, user.RolesOf(), user.PermissionsOf(), user.FindFirstValue(SessionClaims.Tenant) ?? "");
        var trace = Activity.Current?.TraceId
            ?? (ActivityContext.TryParse(traceparent, null, out var incoming) ? incoming.TraceId : ActivityTraceId.CreateRandom());
        claims["trace_id"] = trace.ToHexString();
        return tokens.CreateInternalTokenAsync(claims, audience, now, now + _perRequestLifetime, ct);
    }

    private async ValueTask<string> GetSlowAsync(ClaimsPrincipal user, string audience, CancellationToken ct)
    {
        var sid = user.FindFirstValue(SessionClaims.SessionId)!;
        var roles = user.RolesOf();
        var permissions = user.PermissionsOf();
        var tenant = user.FindFirstValue(SessionClaims.Tenant) ?? "";
        // A step-up moves auth_time (and acr): the token must say so, so it is part of what a cached token must match.
        var authTime = user.FindFirstValue(SessionClaims.AuthTime);
        var tick = Environment.TickCount64;
        if (_cache.TryGetValue((sid, audience), out var hit) && tick < hit.RenewAt && hit.Tenant == tenant && hit.AuthTime == authTime
            && hit.Roles.AsSpan().SequenceEqual(roles) && hit.Permissions.AsSpan().SequenceEqual(permissions))
        {
            _byPrincipal.GetOrCreateValue(user)[audience] = hit;
            return hit.Token;
        }

        var now = time.GetUtcNow();
        var token = await tokens.CreateInternalTokenAsync(Claims(user, roles, permissions, tenant), audience, now, now + _lifetime, ct);
        var cached = new Cached(token, tick + (long)(_lifetime * 0.8).TotalMilliseconds, roles, permissions, tenant, authTime);
        _cache[(sid, audience)] = cached;
        _byPrincipal.GetOrCreateValue(user)[audience] = cached;
        if (Interlocked.Increment(ref _writes) % 1024 == 0) Sweep(tick);
        return token;
    }

    private static Dictionary<string, object> Claims(ClaimsPrincipal user, string[] roles, string[] permissions, string tenant)
    {
        var assurance = user.AssuranceOf();
        return new()
    {
        // The session's assurance, so a downstream can demand a second factor (acr aal2) or a recent one (auth_time).
        [SessionClaims.Acr] = assurance.Acr,
        [SessionClaims.Amr] = assurance.Amr,
        [SessionClaims.AuthTime] = assurance.AuthTime.ToUnixTimeSeconds(),
        [SessionClaims.Subject] = user.FindFirstValue(SessionClaims.Subject)!,
        [SessionClaims.TenantId] = user.FindFirstValue(SessionClaims.TenantId)!,
        [SessionClaims.Tenant] = tenant,
        [SessionClaims.Role] = roles,
        [SessionClaims.Permission] = permissions,
        [SessionClaims.SessionId] = user.FindFirstValue(SessionClaims.SessionId)!,
        [JwtRegisteredClaimNames.Jti] = TokenService.NewId(),
    };
    }

    private void Sweep(long tick)
    {
        foreach (var (key, value) in _cache)
        {
            if (tick >= value.RenewAt) _cache.TryRemove(new KeyValuePair<(string, string), Cached>(key, value));
        }
    }
}
