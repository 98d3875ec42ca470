namespace SessionGate.Infrastructure;

/// <summary>Claim names shared by the principal, the access JWT and the internal JWT.</summary>
public static class SessionClaims
{
    public const string Subject = "sub";
    public const string TenantId = "tenant_id";
    public const string Tenant = "tenant";
    public const string Name = "name";
    public const string SessionId = "sid";
    public const string Device = "device";
    public const string Role = "roles";
    public const string Permission = "permissions";
    public const string Version = "ver";
    /// <summary>When the session started (was <c>auth_time</c> before second factors; that name now means the last proof).</summary>
    public const string CreatedAt = "session_iat";
    public const string ExpiresAt = "session_exp";
    public const string Jti = "jti";
    /// <summary>The session's assurance level, <c>aal1</c> or <c>aal2</c>.</summary>
    public const string Acr = "acr";
    /// <summary>RFC 8176 authentication methods: <c>pwd</c>, <c>otp</c>, <c>hwk</c>, <c>mfa</c> (one claim each; an array in a JWT).</summary>
    public const string Amr = "amr";
    /// <summary>When the user last proved a factor (unix seconds): the login, or the latest step-up.</summary>
    public const string AuthTime = "auth_time";
    /// <summary>Present (value <c>required</c>) on a session that may call only /auth/* until a second factor is enrolled.</summary>
    public const string MfaEnrollment = "mfa_enrollment";

    public const string AuthenticationType = "SessionGate";

    public static Guid UserId(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(Subject)!);
    public static Guid TenantIdOf(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(TenantId)!);
    public static Guid SessionIdOf(this ClaimsPrincipal p) => Guid.Parse(p.FindFirstValue(SessionId)!);
    public static string[] RolesOf(this ClaimsPrincipal p) => p.FindAll(Role).Select(c => c.Value).ToArray();
    public static string[] PermissionsOf(this ClaimsPrincipal p) => p.FindAll(Permission).Select(c => c.Value).ToArray();

    /// <summary>A session that must enrol a second factor before it may reach anything but its own enrolment.</summary>
    public static bool IsEnrolmentOnly(this ClaimsPrincipal p) => p.HasClaim(c => c.Type == MfaEnrollment);
}
