using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.WebUtilities;
using SessionGate.Data;
using SessionGate.Infrastructure;

namespace SessionGate.Sessions;

/// <summary>
/// One strategy per <see cref="AuthMode"/>: how a credential is issued, checked on the hot path and revoked.
/// Endpoints and policies only ever see this interface.
/// </summary>
public interface IAuthMode
{
    /// <summary>Whether the session cookie is a credential (Opaque only).</summary>
    bool AcceptsCookie { get; }

    /// <summary>Fills the mode's parts of a new session inside the login transaction; returns what the client gets.</summary>
    Task<IssuedCredential> IssueAsync(Session session, SessionSnapshot snapshot, long securityVersion, CancellationToken ct);

    /// <summary>Warms Redis once the new session is committed.</summary>
    Task AfterIssueAsync(Session session, SessionSnapshot snapshot, long securityVersion, CancellationToken ct);

    /// <summary>The hot path. With <paramref name="databaseOnly"/> Redis is neither read nor written.</summary>
    Task<AuthOutcome> AuthenticateAsync(string credential, bool databaseOnly, CancellationToken ct);

    /// <summary>Rotates a refresh token (JWT modes).</summary>
    Task<RefreshOutcome> RefreshAsync(string refreshToken, string? ip, CancellationToken ct);

    /// <summary>Mirrors sessions already revoked in PostgreSQL into Redis.</summary>
    Task MirrorRevokedAsync(IReadOnlyList<Session> sessions, string reason, CancellationToken ct);

    /// <summary>Mirrors a user's new security version and the user's live sessions (with fresh roles) into Redis.</summary>
    Task MirrorUserChangedAsync(Guid userId, long version, string reason, IReadOnlyList<(Session Session, SessionSnapshot Snapshot)> live, CancellationToken ct);
}

public sealed record AuthOutcome(SessionSnapshot? Session, int Status, string? ErrorType, string? Reason, string? Jti = null)
{
    public static AuthOutcome Ok(SessionSnapshot s, string? jti = null) => new(s, 200, null, null, jti);
    public static readonly AuthOutcome Unknown = new(null, StatusCodes.Status401Unauthorized, Problems.Unauthenticated, null);
    public static AuthOutcome Revoked(string reason) => new(null, StatusCodes.Status401Unauthorized, Problems.SessionRevoked, reason);
    public static readonly AuthOutcome Unavailable = new(null, StatusCodes.Status503ServiceUnavailable, Problems.ServiceUnavailable, null);
    public static readonly AuthOutcome CrossSite = new(null, StatusCodes.Status403Forbidden, Problems.CrossSiteRequest, null);
}

/// <summary>What login or refresh hands the client: one body shape per mode, and the cookie value in Opaque.</summary>
public sealed record IssuedCredential(LoginResponse Body, string? CookieValue, DateTimeOffset? CookieExpires);

public sealed record RefreshOutcome(IssuedCredential? Credential, string? ErrorType)
{
    public static RefreshOutcome Invalid { get; } = new(null, Problems.InvalidRefreshToken);
    public static RefreshOutcome NotSupported { get; } = new(null, Problems.NotSupportedInMode);
}

/// <summary>The login and refresh response. Opaque fills the session fields; the JWT modes the token fields.</summary>
public sealed class LoginResponse
{
    /// <summary><c>Session</c> (Opaque) or <c>Bearer</c> (JWT modes).</summary>
    public required string TokenType { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? SessionId { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? ExpiresAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public DateTimeOffset? IdleExpiresAt { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? AccessToken { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? ExpiresIn { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? RefreshToken { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public int? RefreshExpiresIn { get; init; }
}

/// <summary>256-bit random secrets (session ids, refresh tokens), stored only as SHA-256.</summary>
public static class Secrets
{
    public const int EncodedLength = 43;

    public static string New() => WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));

    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    public static bool IsWellFormed(string value)
    {
        if (value.Length != EncodedLength) return false;
        foreach (var c in value)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c == '-' || c == '_')) return false;
        }
        return true;
    }
}
