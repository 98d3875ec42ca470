namespace SessionGate.Tests.Gateway;

// What a downstream behind the gateway sees, as the sample downstream (samples/Downstream) echoes it: the internal
// JWT's header and claims (API.md, "Keys and gateway" and "Internal JWT"), and the client's credentials that reached it.

/// <summary>GET /claims of the sample downstream.</summary>
public sealed record DownstreamEcho(JwtHeader Header, InternalClaims Claims, ReceivedCredentials Received);

public sealed record JwtHeader(string Kid, string Typ, string Alg);

/// <summary>
/// The internal JWT's claims: one value per claim, a list for roles, permissions and amr, times in seconds.
/// <c>trace_id</c> only on per-request routes; <c>act</c> only after a token exchange.
/// </summary>
public sealed record InternalClaims(
    string Iss, string Aud, string Sub, Guid TenantId, string Tenant, string[] Roles, string[] Permissions, Guid Sid, string Jti,
    long Iat, long Nbf, long Exp, string Acr, string[] Amr, long AuthTime, string? TraceId = null, Actor? Act = null);

/// <summary>RFC 8693's <c>act</c>: the acting client, nested when the subject token already carried one.</summary>
public sealed record Actor(string Sub, Actor? Act = null);

/// <summary>What reached the downstream of the client's own credentials (none should) and of a harmless header.</summary>
public sealed record ReceivedCredentials(string[] Cookies, string Authorization, int InternalJwtHeaders, string Custom);

/// <summary>GET /raw of the test's downstream: the Cookie, Authorization and X-Internal-JWT headers as they arrived.</summary>
public sealed record RawHeaders(string Cookie, string Authorization, string Jwt);

/// <summary>POST /admin/keys/rotate.</summary>
public sealed record RotatedKey(string Kid);
