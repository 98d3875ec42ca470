using SessionGate.Sessions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// Type-level names for the three modes, so one test class runs once per mode. What a test expects differently per
/// mode is a fact of the mode, named here, rather than a branch on which mode it is.
/// </summary>
public interface IMode
{
    static abstract AuthMode Value { get; }

    /// <summary>
    /// True when a role change reaches a credential only through a refresh: the old access token is refused with
    /// <c>roles-changed</c> and the refreshed one carries the new roles (Blacklist's self-contained JWT). The other
    /// modes read roles per request, so the same credential sees the change.
    /// </summary>
    static abstract bool RoleChangeNeedsRefresh { get; }

    /// <summary>True when the bearer credential is a signed JWT (an access token with a <c>kid</c>), not an opaque session id.</summary>
    static abstract bool BearerIsJwt { get; }

    /// <summary>True when a login hands out a refresh token and <c>POST /auth/refresh</c> rotates it (the JWT modes).</summary>
    static abstract bool HasRefreshTokens { get; }

    /// <summary>True when the <c>__Host-sid</c> cookie carries the session, so it is a credential on its own (Opaque only).</summary>
    static abstract bool CookieIsCredential { get; }

    /// <summary>
    /// True when Redis keys the session entry by the hash of the credential itself (<c>{o:&lt;hash&gt;}</c>, Opaque); the
    /// JWT modes key what they keep by user (<c>{u:&lt;user&gt;}</c>), see App/Sessions/RedisStore.cs.
    /// </summary>
    static abstract bool RedisKeyedByCredential { get; }

    /// <summary>
    /// True when the access token carries the session's state itself (Blacklist): its assurance, its enrolment-only
    /// restriction and its roles change only with a new token (a refresh), and the session is not read per request.
    /// </summary>
    static abstract bool SelfContainedAccessToken { get; }
}

public sealed class Opaque : IMode
{
    public static AuthMode Value => AuthMode.Opaque;
    public static bool RoleChangeNeedsRefresh => false;
    public static bool BearerIsJwt => false;
    public static bool HasRefreshTokens => false;
    public static bool CookieIsCredential => true;
    public static bool RedisKeyedByCredential => true;
    public static bool SelfContainedAccessToken => false;
}

public sealed class Blacklist : IMode
{
    public static AuthMode Value => AuthMode.Blacklist;
    public static bool RoleChangeNeedsRefresh => true;
    public static bool BearerIsJwt => true;
    public static bool HasRefreshTokens => true;
    public static bool CookieIsCredential => false;
    public static bool RedisKeyedByCredential => false;
    public static bool SelfContainedAccessToken => true;
}

public sealed class SessionCache : IMode
{
    public static AuthMode Value => AuthMode.SessionCache;
    public static bool RoleChangeNeedsRefresh => false;
    public static bool BearerIsJwt => true;
    public static bool HasRefreshTokens => true;
    public static bool CookieIsCredential => false;
    public static bool RedisKeyedByCredential => false;
    public static bool SelfContainedAccessToken => false;
}
