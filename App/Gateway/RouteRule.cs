using System.Globalization;
using SessionGate.Sessions;

namespace SessionGate.Gateway;

/// <summary>
/// The claims that say how strongly a caller authenticated (RFC 9470's meaning): <c>acr</c> (<see cref="Aal1"/> or
/// <see cref="Aal2"/>) and <c>auth_time</c> (unix seconds). Read from the authenticated principal; a principal
/// without <c>acr</c> is <see cref="Aal1"/>, and one without <c>auth_time</c> has no known authentication time.
/// </summary>
public static class AssuranceClaims
{
    public const string Acr = SessionClaims.Acr;
    public const string AuthTime = SessionClaims.AuthTime; // the last proof of the session's factors, raised by a step-up
    public const string Aal1 = "aal1";
    public const string Aal2 = "aal2";

    /// <summary>The levels a route may require, weakest first.</summary>
    public static readonly string[] Levels = [Aal1, Aal2];

    public static int Rank(string? acr) => acr is null ? 0 : Math.Max(0, Array.IndexOf(Levels, acr));

    public static DateTimeOffset? AuthTimeOf(ClaimsPrincipal user) =>
        long.TryParse(user.FindFirstValue(AuthTime), NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}

/// <summary>Why a rule refused an authenticated caller, and the problem that says so.</summary>
public abstract record RuleRefusal
{
    /// <summary>403 forbidden: the caller lacks the permission.</summary>
    public sealed record MissingPermission(string Permission) : RuleRefusal;

    /// <summary>401 step-up-required: the caller's assurance is too low or too old (RFC 9470).</summary>
    public sealed record StepUpRequired(string? AcrValues, TimeSpan? MaxAge) : RuleRefusal;

    /// <summary>Answers the refusal: the downstream is not called.</summary>
    public Task WriteAsync(HttpContext http)
    {
        switch (this)
        {
            case MissingPermission m:
                return Problems.WriteAsync(http, StatusCodes.Status403Forbidden, Problems.Forbidden, $"This needs the permission {m.Permission}.",
                    new Dictionary<string, object?> { ["required_permissions"] = new[] { m.Permission } });
            case StepUpRequired s:
                var extensions = new Dictionary<string, object?>();
                // RFC 9470: the challenge says what would satisfy the resource, in the header and in the body.
                var challenge = "Bearer error=\"insufficient_user_authentication\", error_description=\"A stronger or more recent authentication is required\"";
                if (s.AcrValues is { } acr)
                {
                    extensions["acr_values"] = acr;
                    challenge += $", acr_values=\"{acr}\"";
                }
                if (s.MaxAge is { } age)
                {
                    extensions["max_age"] = (long)age.TotalSeconds;
                    challenge += $", max_age={(long)age.TotalSeconds}";
                }
                http.Response.Headers.WWWAuthenticate = challenge;
                return Problems.WriteAsync(http, StatusCodes.Status401Unauthorized, Problems.StepUpRequired,
                    "Authenticate again with a second factor (POST /auth/step-up), then retry.", extensions);
            default:
                throw new InvalidOperationException("Unknown refusal.");
        }
    }
}

/// <summary>
/// What a gateway route or a forward-auth rule says about its callers, from its <c>Metadata</c>: the audience of the
/// internal JWT (<c>InternalJwtAudience</c>), whether it is minted per request (<c>InternalJwtPerRequest</c>), a
/// permission the caller must hold (<c>RequiredPermission</c>), and a level of assurance (<c>RequiredAcr</c>, with
/// <c>MaxAuthAge</c> as seconds or a time span). The built-in gateway and <c>/auth/verify</c> parse and check it
/// with this one class.
/// </summary>
public sealed record RouteRule(string Audience, bool PerRequest, string? RequiredPermission, string? RequiredAcr, TimeSpan? MaxAuthAge)
{
    public const string AudienceKey = "InternalJwtAudience";
    public const string PerRequestKey = "InternalJwtPerRequest";
    public const string RequiredPermissionKey = "RequiredPermission";
    public const string RequiredAcrKey = "RequiredAcr";
    public const string MaxAuthAgeKey = "MaxAuthAge";

    /// <summary>Parses a route's metadata; every problem is added to <paramref name="errors"/>, naming <paramref name="where"/>.</summary>
    public static RouteRule? Parse(IReadOnlyDictionary<string, string>? metadata, string where, ICollection<string> errors)
    {
        var before = errors.Count;
        string? Get(string key) => metadata is not null && metadata.TryGetValue(key, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        var audience = Get(AudienceKey);
        if (audience is null) errors.Add($"{where}:Metadata:{AudienceKey} is required: it is the aud of the internal JWT the route's downstream accepts.");
        var perRequest = false;
        if (Get(PerRequestKey) is { } p && !bool.TryParse(p, out perRequest)) errors.Add($"{where}:Metadata:{PerRequestKey} must be true or false.");
        var permission = Get(RequiredPermissionKey);
        if (permission is not null && !Permissions.All.Contains(permission))
            errors.Add($"{where}:Metadata:{RequiredPermissionKey} must be one of {string.Join(", ", Permissions.All)}.");
        var acr = Get(RequiredAcrKey);
        if (acr is not null && !AssuranceClaims.Levels.Contains(acr))
            errors.Add($"{where}:Metadata:{RequiredAcrKey} must be one of {string.Join(", ", AssuranceClaims.Levels)}.");
        TimeSpan? maxAge = null;
        if (Get(MaxAuthAgeKey) is { } m)
        {
            if (long.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds > 0) maxAge = TimeSpan.FromSeconds(seconds);
            else if (TimeSpan.TryParse(m, CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero) maxAge = span;
            else errors.Add($"{where}:Metadata:{MaxAuthAgeKey} must be a positive number of seconds or a time span (00:10:00).");
        }
        return errors.Count > before ? null : new RouteRule(audience!, perRequest, permission, acr, maxAge);
    }

    /// <summary>Parses metadata that was validated at start (throws if it was not).</summary>
    public static RouteRule From(IReadOnlyDictionary<string, string>? metadata, string where)
    {
        var errors = new List<string>();
        return Parse(metadata, where, errors) ?? throw new InvalidOperationException(string.Join(" ", errors));
    }

    /// <summary>Null when the authenticated <paramref name="user"/> may pass; otherwise why not.</summary>
    public RuleRefusal? Check(ClaimsPrincipal user, DateTimeOffset now)
    {
        if (RequiredPermission is { } permission && !user.HasClaim(SessionClaims.Permission, permission))
            return new RuleRefusal.MissingPermission(permission);
        if (RequiredAcr is null && MaxAuthAge is null) return null;
        var tooWeak = RequiredAcr is not null && AssuranceClaims.Rank(user.FindFirstValue(AssuranceClaims.Acr)) < AssuranceClaims.Rank(RequiredAcr);
        var tooOld = MaxAuthAge is { } maxAge && (AssuranceClaims.AuthTimeOf(user) is not { } at || now - at > maxAge);
        return tooWeak || tooOld ? new RuleRefusal.StepUpRequired(RequiredAcr, MaxAuthAge) : null;
    }
}
