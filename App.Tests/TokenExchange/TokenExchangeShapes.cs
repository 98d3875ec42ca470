namespace SessionGate.Tests.TokenExchange;

// API.md's token exchange shapes (RFC 8693 and RFC 6749's error), as the tests read them (strictly: see Contract).

/// <summary>POST /oauth/token, a successful exchange.</summary>
public sealed record ExchangedToken(string AccessToken, string IssuedTokenType, string TokenType, long ExpiresIn);

/// <summary>An RFC 6749 §5.2 error: exactly error and error_description.</summary>
public sealed record OAuthError(string Error, string ErrorDescription);

/// <summary>POST /admin/service-clients and POST .../secret: the secret, shown once.</summary>
public sealed record ServiceClientSecret(string ClientId, string ClientSecret);

/// <summary>GET /admin/service-clients items.</summary>
public sealed record ServiceClient(string ClientId, string Audience, string[] MayCall, DateTimeOffset CreatedAt, DateTimeOffset SecretRotatedAt);

/// <summary>The audit detail of <c>token.exchanged</c>: who exchanged what for whom, never a token.</summary>
public sealed record ExchangeAudit(string ClientId, string Audience, string SubjectAudience, Guid SessionId, string Jti, string SubjectJti, string? TraceId,
    string[] Act);

/// <summary>The audit detail of <c>token.exchange-refused</c>.</summary>
public sealed record ExchangeRefusedAudit(string ClientId, string Audience, string Error);

/// <summary>The audit detail of <c>service-client.secret-rotated</c>.</summary>
public sealed record ClientAudit(string ClientId);
