using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using SessionGate.Observability;
using SessionGate.Sessions;
using StackExchange.Redis;

namespace SessionGate.Auth;

/// <summary>Why the handler refused a credential; carried by <see cref="AuthenticateResult.Failure"/> to the challenge.</summary>
public sealed class CredentialRejectedException(AuthOutcome outcome) : Exception("The credential was not accepted.")
{
    public AuthOutcome Outcome => outcome;
}

/// <summary>
/// The one authentication scheme. It reads the credential (cookie or bearer), lets the configured
/// <see cref="IAuthMode"/> decide (the L1, else at most one Redis round trip), and builds the ticket. It owns its
/// cookie and its failures: the challenge answers with the problem the mode's decision calls for.
/// </summary>
public sealed partial class SessionAuthenticationHandler(
    IOptionsMonitor<SessionAuthenticationOptions> options,
    ILoggerFactory logger, // one logger per category (Infrastructure/CachedLoggerFactory), not one per request
    UrlEncoder encoder,
    IAuthMode mode,
    SessionGate.Sessions.RedisProof proof,
    DependencyHealth health,
    SessionGateMetrics metrics)
    : AuthenticationHandler<SessionAuthenticationOptions>(options, logger, encoder)
{
    public const string SchemeName = "Session";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string? credential = null;
        var fromCookie = false;
        // One cookie grammar for judging and for stripping (SessionCookie): a Cookie header that carries the session
        // cookie ambiguously is refused whatever else the request carries, so it can never reach a downstream.
        var cookie = SessionCookie.Find(Request.Headers.Cookie, Options.Cookie.Name!);
        if (cookie.State == SessionCookieState.Ambiguous) return Failed(AuthOutcome.Unknown);
        var authorization = Request.Headers.Authorization;
        // Another scheme's header (Basic, say) is not ours to judge; the cookie may still carry the session.
        if (authorization.Count > 0 && authorization[0] is { } header && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            credential = header[7..].Trim();
        }
        else if (mode.AcceptsCookie && cookie.State == SessionCookieState.Present)
        {
            credential = cookie.Value;
            fromCookie = true;
        }
        if (string.IsNullOrEmpty(credential)) return AuthenticateResult.NoResult();
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        using var activity = SessionGateTracing.Source.StartActivity("authenticate");
        var result = await JudgeAsync(credential, fromCookie);
        var outcome = result.Failure is CredentialRejectedException rejected ? rejected.Outcome : null;
        metrics.Authenticated((outcome?.Result ?? AuthResult.Success) switch
        {
            AuthResult.Success => "success",
            AuthResult.Revoked => "revoked",
            AuthResult.Unavailable => "unavailable",
            AuthResult.CrossSite => "cross-site",
            _ => "unauthenticated",
        }, outcome?.Reason, start);
        if (activity is not null)
        {
            activity.SetTag("sessiongate.result", (outcome?.Result ?? AuthResult.Success).ToString());
            if (outcome?.Reason is { } reason) activity.SetTag("sessiongate.reason", reason);
            if (result.Principal is { } user)
            {
                activity.SetTag("enduser.id", user.FindFirst(SessionClaims.Subject)?.Value);
                activity.SetTag("sessiongate.session_id", user.FindFirst(SessionClaims.SessionId)?.Value);
            }
        }
        return result;
    }

    private async Task<AuthenticateResult> JudgeAsync(string credential, bool fromCookie)
    {
        if (credential.Length > Options.MaxCredentialLength) return Failed(AuthOutcome.Unknown);
        if (fromCookie && IsCrossSiteStateChange(Request)) return Failed(AuthOutcome.CrossSite);

        // Redis's answers count only once it proved how current it is (Sessions/RedisProof): until then PostgreSQL
        // decides, or, before Redis was ever read and unless configured to fall back, the request is refused.
        var trust = proof.Trust;
        if (trust == SessionGate.Sessions.RedisTrust.Unknown && Options.RedisUnavailable != RedisUnavailableBehavior.FallbackToPostgres)
            return Failed(AuthOutcome.Unavailable);
        AuthOutcome outcome;
        try
        {
            outcome = await mode.AuthenticateAsync(credential, databaseOnly: trust != SessionGate.Sessions.RedisTrust.Proven, Context.RequestAborted);
            health.Succeeded(Dependency.Redis);
        }
        catch (Exception e) when (DependencyHealth.IsRedisFailure(e))
        {
            health.Failed(Dependency.Redis, e);
            // A broken connection: the multiplexer reports it on the thread pool, which under load may be after it has
            // reconnected to a Redis that came back older. The request that met the break says so at once.
            if (e is RedisConnectionException) proof.ConnectionLost();
            if (Options.RedisUnavailable != RedisUnavailableBehavior.FallbackToPostgres) return Failed(AuthOutcome.Unavailable);
            try
            {
                outcome = await mode.AuthenticateAsync(credential, databaseOnly: true, Context.RequestAborted);
            }
            catch (Exception pg) when (DependencyHealth.IsPostgresFailure(pg))
            {
                health.Failed(Dependency.Postgres, pg);
                return Failed(AuthOutcome.Unavailable);
            }
        }
        catch (Exception e) when (DependencyHealth.IsPostgresFailure(e))
        {
            // Redis missed and PostgreSQL, which would decide, is down: never guess.
            health.Failed(Dependency.Postgres, e);
            return Failed(AuthOutcome.Unavailable);
        }
        if (outcome.Principal is not { } principal) return Failed(outcome);
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    private AuthenticateResult Failed(AuthOutcome outcome)
    {
        // Said once, on the request's own log line (RequestLog), rather than in lines of its own.
        RequestLog.Note(Context, outcome.Result switch
        {
            AuthResult.Revoked => "credential refused, session-revoked (" + outcome.Reason + ")",
            AuthResult.CrossSite => "credential refused, cross-site-request",
            AuthResult.Unavailable => "credential refused, service-unavailable",
            _ => "credential refused, unauthenticated",
        });
        // The message is generic on purpose; the problem body says only what the client may know.
        return AuthenticateResult.Fail(new CredentialRejectedException(outcome));
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

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var outcome = (result.Failure as CredentialRejectedException)?.Outcome ?? AuthOutcome.Unknown;
        var (status, type) = outcome.Result switch
        {
            AuthResult.Revoked => (StatusCodes.Status401Unauthorized, Problems.SessionRevoked),
            AuthResult.Unavailable => (StatusCodes.Status503ServiceUnavailable, Problems.ServiceUnavailable),
            AuthResult.CrossSite => (StatusCodes.Status403Forbidden, Problems.CrossSiteRequest),
            _ => (StatusCodes.Status401Unauthorized, Problems.Unauthenticated),
        };
        if (status == StatusCodes.Status401Unauthorized) Response.Headers.WWWAuthenticate = "Bearer";
        if (status == StatusCodes.Status503ServiceUnavailable) Response.Headers.RetryAfter = DependencyHealth.RetryAfterSeconds;
        var extensions = outcome.Reason is null ? null : new Dictionary<string, object?> { ["reason"] = outcome.Reason };
        await Problems.WriteAsync(Context, status, type, extensions: extensions);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, Problems.Forbidden);
}
