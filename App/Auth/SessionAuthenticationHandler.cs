using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using StackExchange.Redis;

namespace SessionGate.Auth;

/// <summary>Options for <see cref="SessionAuthenticationHandler"/>.</summary>
public sealed class SessionAuthenticationOptions : AuthenticationSchemeOptions
{
    /// <summary>The session cookie's name (Opaque mode).</summary>
    public string CookieName { get; set; } = "__Host-sid";

    /// <summary>Longest credential that is looked at; anything longer is refused unread.</summary>
    public int MaxCredentialLength { get; set; } = 8192;

    /// <summary>What to do while Redis cannot be reached.</summary>
    public RedisUnavailableBehavior RedisUnavailable { get; set; } = RedisUnavailableBehavior.FailClosed;
}

/// <summary>
/// The one authentication scheme. It reads the credential (cookie or bearer), lets the configured
/// <see cref="IAuthMode"/> check it with at most one Redis round trip, and builds the principal.
/// </summary>
public sealed partial class SessionAuthenticationHandler(
    IOptionsMonitor<SessionAuthenticationOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IAuthMode mode)
    : AuthenticationHandler<SessionAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "Session";
    private const string OutcomeKey = "SessionGate.AuthOutcome";
    private const string CredentialSourceKey = "SessionGate.CredentialFromCookie";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? credential = null;
        var fromCookie = false;
        var authorization = Request.Headers.Authorization.ToString();
        // Another scheme's header (Basic, say) is not ours to judge; the cookie may still carry the session.
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            credential = authorization[7..].Trim();
        }
        else if (mode.AcceptsCookie && Request.Cookies.TryGetValue(Options.CookieName, out var cookie))
        {
            credential = cookie;
            fromCookie = true;
        }
        if (string.IsNullOrEmpty(credential)) return AuthenticateResult.NoResult();
        Context.Items[CredentialSourceKey] = fromCookie;
        if (credential.Length > Options.MaxCredentialLength) return Failed(AuthOutcome.Unknown);
        if (fromCookie && IsCrossSiteStateChange(Request)) return Failed(AuthOutcome.CrossSite);

        AuthOutcome outcome;
        try
        {
            outcome = await mode.AuthenticateAsync(credential, databaseOnly: false, Context.RequestAborted);
        }
        catch (Exception e) when (e is RedisException or RedisTimeoutException)
        {
            if (Options.RedisUnavailable != RedisUnavailableBehavior.FallbackToPostgres)
            {
                LogRedisUnavailable(Logger, e.GetType().Name);
                return Failed(AuthOutcome.Unavailable);
            }
            outcome = await mode.AuthenticateAsync(credential, databaseOnly: true, Context.RequestAborted);
        }
        if (outcome.Session is null) return Failed(outcome);

        var principal = SessionClaims.ToPrincipal(outcome.Session);
        if (outcome.Jti is not null) ((ClaimsIdentity)principal.Identity!).AddClaim(new Claim("jti", outcome.Jti));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
    }

    /// <summary>Whether the request came from the session cookie rather than a header.</summary>
    public static bool CredentialFromCookie(HttpContext context) => context.Items[CredentialSourceKey] is true;

    private AuthenticateResult Failed(AuthOutcome outcome)
    {
        Context.Items[OutcomeKey] = outcome;
        if (outcome.Reason is not null) LogRejected(Logger, outcome.ErrorType!, outcome.Reason);
        // The message is generic on purpose; the problem body says only what the client may know.
        return AuthenticateResult.Fail("The credential was not accepted.");
    }

    // A cookie rides along on cross-site requests, so only same-origin requests may change state with it.
    private static bool IsCrossSiteStateChange(HttpRequest request)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)) return false;
        if (string.Equals(request.Headers["Sec-Fetch-Site"], "cross-site", StringComparison.OrdinalIgnoreCase)) return true;
        var origin = request.Headers.Origin.ToString();
        if (string.IsNullOrEmpty(origin)) return false;
        // Same origin means same scheme, host and port (behind a TLS proxy, forwarded headers set the scheme).
        return !Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            || !string.Equals(uri.Scheme, request.Scheme, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(uri.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var outcome = Context.Items[OutcomeKey] as AuthOutcome ?? AuthOutcome.Unknown;
        if (outcome.Status == StatusCodes.Status401Unauthorized) Response.Headers.WWWAuthenticate = "Bearer";
        var extensions = outcome.Reason is null ? null : new Dictionary<string, object?> { ["reason"] = outcome.Reason };
        return Problems.WriteAsync(Context, outcome.Status, outcome.ErrorType!, extensions: extensions);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, Problems.Forbidden);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis unavailable during authentication ({ExceptionType}); failing closed")]
    private static partial void LogRedisUnavailable(ILogger logger, string exceptionType);

    [LoggerMessage(Level = LogLevel.Information, Message = "Credential rejected: {ErrorType} ({Reason})")]
    private static partial void LogRejected(ILogger logger, string errorType, string reason);
}

public static class SessionAuthenticationExtensions
{
    public static AuthenticationBuilder AddSessionGate(this AuthenticationBuilder builder) =>
        builder.AddScheme<SessionAuthenticationOptions, SessionAuthenticationHandler>(SessionAuthenticationHandler.SchemeName, _ => { });
}
