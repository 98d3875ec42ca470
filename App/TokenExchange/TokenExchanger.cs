using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.TokenExchange;

/// <summary>The result of one exchange: the response, or an RFC 6749 error code with its description.</summary>
public readonly record struct ExchangeOutcome(TokenExchangeResponse? Response, string? Error, string? Description)
{
    public static ExchangeOutcome Refused(string error, string description) => new(null, error, description);
}

/// <summary>
/// The rules of an exchange, for a client already authenticated: the target must be one it may call; the subject
/// token must be an unexpired internal JWT of ours addressed to the client itself; the session behind it must be
/// live in PostgreSQL (the source of truth, so a logout, kick or ban made a moment ago counts). The new token copies
/// the subject's claims, nests <c>act</c>, and never outlives the subject. Every exchange, and every refusal of an
/// authenticated client, is audited.
/// </summary>
public sealed partial class TokenExchanger(TokenService tokens, AppDbContext db, AuditLog audit, TimeProvider time, IOptions<JwtOptions> jwt,
    ILogger<TokenExchanger> logger)
{
    // Set by the issuer on the new token; everything else is the subject's and is carried over.
    private static readonly HashSet<string> Registered = ["iss", "aud", "exp", "iat", "nbf", "jti", "act"];

    public async Task<ExchangeOutcome> ExchangeAsync(ServiceClient client, string subjectToken, string audience, HttpContext http, CancellationToken ct)
    {
        if (client.MayCall.Length == 0) return await RefuseAsync(client, audience, null, "unauthorized_client", "This client may not exchange tokens (its may_call is empty).", http, ct);
        if (!client.MayCall.Contains(audience, StringComparer.Ordinal))
            return await RefuseAsync(client, audience, null, "invalid_target", "This client may not call that audience.", http, ct);

        var subject = subjectToken.Length <= 16 * 1024 ? await tokens.ValidateInternalTokenAsync(subjectToken, client.Audience, ct) : null;
        var now = time.GetUtcNow();
        var subjectExp = subject is null ? default : new DateTimeOffset(subject.ValidTo, TimeSpan.Zero);
        // The validator allows clock skew; an exchange never does: the new token may not outlive the subject.
        if (subject is null || subjectExp <= now)
            return await RefuseAsync(client, audience, null, "invalid_grant", "The subject token is not a valid, unexpired internal token for this client.", http, ct);

        if (!Guid.TryParse(subject.GetPayloadValue<string>(SessionClaims.Subject), out var userId)
            || !Guid.TryParse(subject.GetPayloadValue<string>(SessionClaims.SessionId), out var sessionId)
            || !Guid.TryParse(subject.GetPayloadValue<string>(SessionClaims.TenantId), out var tenantId))
            return await RefuseAsync(client, audience, null, "invalid_grant", "The subject token names no session.", http, ct);
        var live = await db.Sessions.AsNoTracking().Where(s => s.Id == sessionId && s.UserId == userId).Where(SessionReader.IsLive(now)).AnyAsync(ct);
        if (!live) return await RefuseAsync(client, audience, (userId, tenantId), "invalid_grant", "The session behind the subject token has ended.", http, ct);

        var payload = JsonDocument.Parse(Base64UrlEncoder.Decode(subject.EncodedPayload)).RootElement;
        var claims = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (var p in payload.EnumerateObject())
        {
            if (!Registered.Contains(p.Name)) claims[p.Name] = p.Value.Clone();
        }
        // RFC 8693 §4.1: the current actor on top, the earlier ones nested inside it.
        var act = new Dictionary<string, object> { ["sub"] = client.ClientId };
        if (payload.TryGetProperty("act", out var prior) && prior.ValueKind == JsonValueKind.Object) act["act"] = prior.Clone();
        claims["act"] = act;
        var jti = TokenService.NewId();
        claims[JwtRegisteredClaimNames.Jti] = jti;

        var exp = now + jwt.Value.InternalTokenLifetime;
        if (exp > subjectExp) exp = subjectExp;
        var token = await tokens.CreateInternalTokenAsync(claims, audience, now, exp, ct);

        var traceId = payload.TryGetProperty("trace_id", out var trace) && trace.ValueKind == JsonValueKind.String ? trace.GetString() : null;
        await audit.WriteAsync(AuditTypes.TokenExchanged, null, userId, tenantId, ClientAddress.Of(http), new
        {
            client_id = client.ClientId,
            audience,
            subject_audience = client.Audience,
            session_id = sessionId,
            jti,
            subject_jti = subject.Id,
            trace_id = traceId,
            act = Chain(act),
        }, ct);
        return new ExchangeOutcome(new TokenExchangeResponse(token, TokenExchangeApi.JwtTokenType, "N_A", (long)(exp - now).TotalSeconds), null, null);
    }

    // The act chain as a list of client ids, newest first, for the audit detail.
    private static List<string> Chain(Dictionary<string, object> act)
    {
        var chain = new List<string> { (string)act["sub"] };
        var next = act.TryGetValue("act", out var nested) ? (JsonElement?)nested : null;
        while (next is { ValueKind: JsonValueKind.Object } e && chain.Count < 16)
        {
            if (e.TryGetProperty("sub", out var sub) && sub.ValueKind == JsonValueKind.String) chain.Add(sub.GetString()!);
            next = e.TryGetProperty("act", out var deeper) ? deeper : null;
        }
        return chain;
    }

    private async Task<ExchangeOutcome> RefuseAsync(ServiceClient client, string audience, (Guid User, Guid Tenant)? subject, string error, string description,
        HttpContext http, CancellationToken ct)
    {
        LogRefused(logger, client.ClientId, audience, error);
        // Without a user to name, the refusal belongs to the platform, whose admin registers the clients.
        var tenant = subject?.Tenant ?? await db.Tenants.Where(t => t.Slug == Permissions.PlatformTenant).Select(t => (Guid?)t.Id).FirstOrDefaultAsync(ct);
        await audit.WriteAsync(AuditTypes.TokenExchangeRefused, null, subject?.User, tenant, ClientAddress.Of(http),
            new { client_id = client.ClientId, audience, error }, ct);
        return ExchangeOutcome.Refused(error, description);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Token exchange refused for client {ClientId} to {Audience}: {Error}")]
    private static partial void LogRefused(ILogger logger, string clientId, string audience, string error);
}
