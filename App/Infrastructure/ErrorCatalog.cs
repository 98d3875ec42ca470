using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.RateLimiting;
using static SessionGate.Infrastructure.Problems;

namespace SessionGate.Infrastructure;

/// <summary>What one problem type means and what a client should do about it; GET /errors/{name} shows it.</summary>
/// <param name="Name">The stable name that ends the problem's <c>type</c>.</param>
/// <param name="Title">The problem's <c>title</c>: the same for every occurrence of the type.</param>
/// <param name="Statuses">The HTTP statuses it comes with.</param>
/// <param name="Summary">One line, for the response descriptions in Swagger.</param>
/// <param name="Meaning">What happened.</param>
/// <param name="WhatToDo">What the client should do next.</param>
/// <param name="Fields">Extension members the body may carry, with their meaning.</param>
public sealed record ErrorInfo(string Name, string Title, int[] Statuses, string Summary, string Meaning, string WhatToDo, (string Name, string Meaning)[] Fields)
{
    public string Type => TypeUri(Name);
}

/// <summary>One error an operation can answer: its status and problem type.</summary>
public readonly record struct ErrorResponse(int Status, string Name);

/// <summary>
/// The errors of the API in one place: what each problem type means (the pages under /errors), and which errors each
/// operation can answer (Swagger's responses). An operation's errors come from its endpoint metadata (authorization,
/// request body, rate limiting) plus what its handler answers, listed here by endpoint name.
/// </summary>
public static class ErrorCatalog
{
    /// <summary>Why a session ended: the values of <c>reason</c> in a session-revoked problem, with what each means.</summary>
    public static readonly (string Reason, string Meaning, string WhatToDo)[] RevokeReasonsExplained =
    [
        (RevokeReasons.LoggedOut, "The session was logged out: POST /auth/logout, POST /auth/logout-all, or DELETE /auth/sessions/{id} from another of the user's sessions.", "Log in again."),
        (RevokeReasons.Kicked, "An administrator ended it: DELETE /admin/sessions/{id}, POST /admin/users/{id}/logout-all, or the user was deleted.", "Log in again; ask your administrator if you do not know why."),
        (RevokeReasons.Replaced, "A newer login of the same user replaced it, as the tenant's login policy says (Single, PerDeviceType, or MaxN with on_limit KickOldest).", "Log in again here, which in turn ends the other session; or keep using the newer one."),
        (RevokeReasons.Banned, "An administrator banned the user; every session ended.", "Contact your administrator; logging in is refused (account-banned) until the ban is lifted or runs out."),
        (RevokeReasons.PasswordChanged, "The user's password changed (by the user, which ends the other sessions, or by an administrator, which ends all of them).", "Log in again with the new password."),
        (RevokeReasons.Expired, "The session passed its idle timeout (no request for Session:IdleTimeout, 30 minutes by default) or its absolute timeout (Session:AbsoluteTimeout, 12 hours by default).", "Log in again."),
        (RevokeReasons.RefreshReused, "A refresh token of this session was presented after it had been spent: two clients held the same token, so one of them stole it (or a client replayed an old one). The whole family, the session and every token of it, ended.", "Log in again. If you did not share or replay the token, treat the device or storage that held it as compromised."),
        (RevokeReasons.RolesChanged, "The user's roles, or the permissions of one of them, changed. In the JWT modes permissions ride in the access token, so tokens issued before the change are refused.", "JWT modes: get a new access token with POST /auth/refresh (the refresh token still works); if that fails, log in again."),
    ];

    private static readonly ErrorInfo[] Infos =
    [
        new(Validation, "The request is not valid.", [400], "The request is not valid; `detail` says why (and `field` names the field when there is one).",
            "A required field is missing, a value is malformed or out of range, or the body or a parameter could not be read (not JSON, a wrong type, an unknown member). The answer is the same however often it is sent.",
            "Fix the request as `detail` says and send it again.",
            [("detail", "what is wrong, in words"), ("field", "the refused field, when there is one")]),
        new(RequestTooLarge, "The request is too large.", [413, 414, 431], "The body, URL or headers are too large.",
            "The body is over the configured limit (Limits:MaxRequestBodySize, 64 KB by default), or the URL or the headers are too long. It was refused before it was read.",
            "Send a smaller request. No operation of this API needs a body anywhere near the limit.", []),
        new(InvalidCredentials, "The credentials are not valid.", [401, 403], "The tenant, username and password do not match (or, when changing a password, the current password is wrong).",
            "On login: the tenant, the username and the password do not match an account. The answer is the same for an unknown tenant, an unknown user and a wrong password, on purpose, so that nobody can find out which accounts exist. When changing a password (403): current_password is wrong.",
            "Check all three (the tenant is its slug, such as acme). Wrong passwords count: after too many from one address, that address gets too-many-attempts for a while.", []),
        new(AccountBanned, "The account is banned.", [403], "The password was right, but the account is banned.",
            "An administrator banned the account (until a date, or for good). This is only said after the right password, so it reveals nothing to a guesser.",
            "Contact your administrator. An administrator lifts the ban with POST /admin/users/{id}/unban.", []),
        new(SessionLimitReached, "The session limit is reached.", [403], "The tenant allows no more sessions for this user (policy MaxN with RejectNew).",
            "The tenant's login policy is MaxN with on_limit RejectNew, and the user already has max_sessions live sessions.",
            "End one of the other sessions (log out there, or DELETE /auth/sessions/{id} from a live one) and log in again, or ask an administrator to change the policy (PUT /admin/tenants/{slug}/login-policy).", []),
        new(TooManyAttempts, "Too many attempts. Try again later.", [429], "Too many attempts; wait the seconds that `Retry-After` says.",
            "Too many failed logins from this address (or its IPv6 network) for this account or overall, too many from this device for this account, too many wrong current passwords (POST /auth/password, PATCH /admin/users/{self}) from this device or address, or too many requests to /auth from this address. The limits hold per device and per address, so a device that signed in to the account before (it sends its device_token or __Host-device cookie) is never refused for failures made elsewhere.",
            "Wait as many seconds as the Retry-After header says, then try again; or sign in from the device you used before, sending its device token. An administrator can clear an account's limits with POST /admin/users/{id}/unlock.", []),
        new(InvalidRefreshToken, "The refresh token is not valid.", [401], "The refresh token is unknown, expired, revoked or already used.",
            "The refresh token is unknown, expired or revoked, or it was already used once. Reusing a spent refresh token also revokes its whole family (every token rotated from the same login), because that is what a stolen token looks like.",
            "Log in again with POST /auth/login. Use each refresh token once, and keep only the newest.", []),
        new(NotSupportedInMode, "Not supported in the configured mode.", [400], "Not available in the configured Auth:Mode (for example refresh in Opaque mode).",
            "The operation does not apply to the configured Auth:Mode. In Opaque mode there are no refresh tokens: the session itself slides while it is used.",
            "In Opaque mode, keep using the session and log in again when it ends.", []),
        new(Unauthenticated, "Authentication is required.", [401], "No credential, or one that is unknown, malformed or expired.",
            "The request carries no credential, or one that is unknown, malformed or expired (an access token past its exp, for example). The response has WWW-Authenticate: Bearer.",
            "Log in with POST /auth/login and send the credential with every request: in Opaque mode the session cookie or Authorization: Bearer <session_id>; in the JWT modes Authorization: Bearer <access_token>, renewed with POST /auth/refresh when it expires.", []),
        new(SessionRevoked, "The session has ended.", [401], "The session was ended on purpose; `reason` says why.",
            "The credential belongs to a session that was ended on purpose. The `reason` member says why; it is one of the reasons below.",
            "Log in again (for roles-changed in the JWT modes, refreshing is enough). The same credential will never work again, so do not retry it.",
            [("reason", "why the session ended: " + string.Join(", ", RevokeReasonsExplained.Select(r => r.Reason)))]),
        new(CrossSiteRequest, "Cross-site requests may not change state.", [403], "A state-changing request carried the session cookie from another origin.",
            "A request that changes state (POST, PUT, PATCH or DELETE) carried the session cookie, but came from another origin: its Origin header is not this API's origin, or it says Sec-Fetch-Site: cross-site. It is refused to stop cross-site request forgery, and the session is left as it was.",
            "Call the API from its own origin, or send the credential in the Authorization header instead of the cookie.", []),
        new(Forbidden, "You do not have permission for this action.", [403], "You lack the permission this needs; `required_permissions` names it.",
            "You are logged in, but your roles do not carry the permission the operation needs (`required_permissions` names it). An administrator also gets it when acting on a user whose permissions it does not hold itself, or when granting permissions it does not hold.",
            "Ask an administrator for a role with the permission. GET /auth/me lists the permissions you have.",
            [("required_permissions", "the permissions of which the operation needs one")]),
        new(Problems.NotFound, "Not found.", [404], "Nothing by that id or name in your tenant.",
            "There is nothing by that id or name in your tenant. Objects of other tenants are answered the same way, exactly as if they did not exist.",
            "Check the id or name. A platform administrator names another tenant with ?tenant=<slug>.", []),
        new(Problems.Conflict, "The resource already exists.", [409], "Something by that name already exists.",
            "A user, role or tenant with that name or slug already exists.",
            "Choose another name, or change the one that exists.", []),
        new(WeakPassword, "The password is too weak.", [400], "The new password breaks the password policy; `detail` says which rule.",
            "The new password is refused by the password policy: at least 12 characters, at least 4 different characters, and not containing the username. `detail` says which rule it broke.",
            "Choose a longer passphrase and send it again.", [("detail", "the rule the password broke")]),
        new(ServiceUnavailable, "The service is temporarily unavailable.", [503], "A dependency does not answer, or logins are saturated; retry after `Retry-After`.",
            "PostgreSQL or Redis does not answer, or too many logins are being checked at once. Nothing was decided about your request or your credential: this is not a rejection. The response has Retry-After.",
            "Retry after as many seconds as the Retry-After header says. Operators: GET /health/ready names what is down.", []),
        new(BadGateway, "The upstream service failed.", [502], "Gateway routes: the downstream service failed.",
            "A gateway route's downstream service failed or could not be reached.",
            "Retry later. Operators: check the downstream service named by the route.", []),
        new(GatewayTimeout, "The upstream service did not answer in time.", [504], "Gateway routes: the downstream did not answer in time.",
            "A gateway route's downstream service did not answer in time.",
            "Retry later. Operators: check the downstream service and its timeout (ReverseProxy:Clusters).", []),
        new(MethodNotAllowed, "The method is not allowed.", [405], "The path exists, but not with this method.",
            "The path exists, but not with this HTTP method (POST /health/live, for example).",
            "Use one of the methods the Allow header lists (Swagger UI shows them).", []),
        new(UnsupportedMediaType, "The content type is not supported.", [415], "The body must be sent as application/json.",
            "The request has a body whose Content-Type is not application/json.",
            "Send the body as JSON with Content-Type: application/json.", []),
        new(Internal, "An unexpected error occurred.", [500], "An unexpected error; nothing internal is in the response.",
            "Something unexpected failed on the server. The response says nothing about it, on purpose; the server's log has the details.",
            "Retry once. If it happens again, report the time and the request line to the operators.", []),
        new(NoRoute, "No forward-auth rule covers this request.", [403], "/auth/verify: no ForwardAuth:Rules entry matches the original host and path.",
            "The edge proxy asked /auth/verify about a request whose host and path no ForwardAuth:Rules entry covers (or whose path is not in normal form: dot segments, doubled or encoded slashes), so SessionGate does not know which audience and checks apply. It is refused rather than guessed.",
            "Operators: add a rule (ForwardAuth:Rules:<name>:PathPrefix, optional Hosts) for the service behind the edge.", []),
        new(MfaRequired, "A second factor is required.", [401], "The password was right; finish signing in with a second factor at POST /auth/login/mfa.",
            "The tenant, username and password were right, and the account has a second factor (an authenticator app, a passkey, recovery codes). No session exists yet: the sign-in waits, for `expires_in` seconds, for the second factor.",
            "POST /auth/login/mfa with {\"mfa_token\", \"code\"} (the 6 digits of the authenticator app), {\"mfa_token\", \"recovery_code\"}, or a passkey: POST /auth/login/mfa/options {\"mfa_token\"}, then navigator.credentials.get with its options and POST /auth/login/mfa {\"mfa_token\", \"ceremony_id\", \"credential\"}. A person can sign in at GET /account instead.",
            [("mfa_token", "the pending sign-in: send it back with the second factor (a secret; it dies after expires_in seconds or 5 wrong codes)"),
             ("methods", "what the account can answer with: totp, passkey, recovery_code"), ("expires_in", "seconds left")]),
        new(InvalidMfaCode, "The second factor is not valid.", [400, 401], "The code, recovery code or passkey did not prove the second factor.",
            "The code is wrong, expired or was already used (a TOTP code is accepted once), the recovery code is unknown or spent, or the passkey's answer was refused (another account's passkey, a spent or expired ceremony, no user verification where it is needed, a signature counter that did not move). Wrong codes count like wrong passwords.",
            "Try again with the current code of your authenticator app (wait for the next one if you just used it), another recovery code, or your passkey. After 5 wrong codes the sign-in must start again.", []),
        new(InvalidMfaToken, "The sign-in has expired.", [401], "The mfa_token is unknown, expired, used, or ended by 5 wrong codes.",
            "The pending sign-in that mfa_token names no longer exists: it expired, it was completed already, or 5 wrong codes ended it.",
            "Start again with POST /auth/login.", []),
        new(StepUpRequired, "A recent second factor is required.", [401], "This needs acr aal2 within max_age seconds; prove a second factor with POST /auth/step-up.",
            "The operation is sensitive (an admin route listed in the contract, or a gateway route or forward-auth rule with Metadata:RequiredAcr and Metadata:MaxAuthAge) and this session's last proof of a second factor is missing or older than `max_age` seconds (RFC 9470). A downstream behind such a route was not called. The WWW-Authenticate header carries the same challenge.",
            "POST /auth/step-up with {\"code\"}, {\"recovery_code\"} or a passkey (POST /auth/step-up/options first), then retry. The session stays the same; in the JWT modes use the access token the step-up returns.",
            [("acr_values", "the level required: aal2"), ("max_age", "how old, in seconds, the proof may be")]),
        new(MfaEnrollmentRequired, "A second factor must be enrolled first.", [403], "The tenant requires a second factor; enrol one under /auth before anything else.",
            "The tenant's policy requires a second factor for this user, who has none yet. Until one is enrolled this session may call only /auth/*.",
            "Enrol an authenticator app (POST /auth/mfa/totp, then POST /auth/mfa/totp/confirm) or a passkey (POST /auth/passkeys/options, then POST /auth/passkeys), for example on GET /account/security. In the JWT modes, refresh the token afterwards.", []),
        new(TooManyRequests, "Too many requests. Slow down.", [429], "Too many requests from this session or address; wait the seconds that `Retry-After` says.",
            "This session, or this client address, sent more requests than the service takes from one client (RateLimits:*: per session, per session for state changes such as POST and DELETE, and per address). Requests a little over the rate wait their turn; this one found too many already waiting.",
            "Wait as many seconds as the Retry-After header says, and send fewer requests at once.", []),
    ];

    private static readonly Dictionary<string, ErrorInfo> ByName = Infos.ToDictionary(i => i.Name, StringComparer.Ordinal);

    /// <summary>Every problem type, in the order of <see cref="Problems"/>.</summary>
    public static IReadOnlyList<ErrorInfo> All => Infos;

    public static ErrorInfo? Find(string name) => ByName.GetValueOrDefault(name);

    /// <summary>Whether the endpoint needs an authenticated caller (it has authorization data and no AllowAnonymous), or acts on one when it comes (<see cref="CredentialOptional"/>).</summary>
    public static bool IsProtected(IReadOnlyList<object> metadata) =>
        (metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any()) || metadata.OfType<CredentialOptional>().Any();

    /// <summary>The authorization policies the endpoint names (permission policies, see <c>Permissions</c>).</summary>
    public static IReadOnlyList<string> Policies(IReadOnlyList<object> metadata) =>
        IsProtected(metadata) ? metadata.OfType<IAuthorizeData>().Select(a => a.Policy).OfType<string>().Distinct().ToList() : [];

    private static ErrorResponse E(int status, string name) => new(status, name);

    /// <summary>
    /// Every error an operation can answer, ordered by status: those its endpoint declares with
    /// <see cref="ProblemTypeExtensions.ProducesProblems"/> (what the handler and its filters answer), and those the
    /// rest of its metadata implies. A protected endpoint can answer 401 (no or an unknown credential, or a revoked session) and
    /// 503 (the credential could not be checked); a state-changing one also 403 cross-site-request (cookie from
    /// another origin); one with a permission policy 403 forbidden. A JSON body brings 400, 413 and 415, and the
    /// /auth rate limit 429.
    /// </summary>
    public static IReadOnlyList<ErrorResponse> For(string? httpMethod, IReadOnlyList<object> metadata)
    {
        var errors = metadata.OfType<ProblemTypesMetadata>().SelectMany(m => m.Names.Select(n => E(m.Status, n))).ToList();
        var method = httpMethod ?? HttpMethods.Get;
        var changesState = HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method);
        if (IsProtected(metadata))
        {
            errors.Add(E(401, Unauthenticated));
            errors.Add(E(401, SessionRevoked));
            errors.Add(E(503, ServiceUnavailable));
            if (changesState) errors.Add(E(403, CrossSiteRequest));
            if (Policies(metadata).Count > 0) errors.Add(E(403, Forbidden));
        }
        if (metadata.OfType<Microsoft.AspNetCore.Http.Metadata.IAcceptsMetadata>().Any(a => a.RequestType is not null))
        {
            errors.Add(E(400, Validation));
            errors.Add(E(413, RequestTooLarge));
            errors.Add(E(415, UnsupportedMediaType));
        }
        if (metadata.OfType<EnableRateLimitingAttribute>().Any()) errors.Add(E(429, TooManyAttempts));
        return errors.Distinct().OrderBy(e => e.Status).ThenBy(e => e.Name, StringComparer.Ordinal).ToList();
    }

    /// <summary><see cref="For(string?, IReadOnlyList{object})"/> for a routed endpoint.</summary>
    public static IReadOnlyList<ErrorResponse> For(Endpoint endpoint, string httpMethod) => For(httpMethod, endpoint.Metadata);
}

/// <summary>
/// Endpoint metadata: an anonymous endpoint that acts on the caller's credential when one comes (POST /auth/logout,
/// which also takes a refresh token alone). Documented and judged like a protected one: the lock in Swagger, its 401s.
/// </summary>
public sealed class CredentialOptional
{
    public static readonly CredentialOptional Instance = new();
}

/// <summary>Endpoint metadata: the problem types an endpoint (its handler or its filters) answers with a status.</summary>
public sealed record ProblemTypesMetadata(int Status, IReadOnlyList<string> Names);
