using System.Globalization;

namespace SessionGate.Sessions;

/// <summary>Who is calling, as every mode hands it to the rest of the app (through <see cref="ToPrincipal"/>).</summary>
public sealed record SessionIdentity(
    Guid UserId,
    Guid TenantId,
    string Tenant,
    string Username,
    Guid SessionId,
    string DeviceType,
    string[] Roles,
    string[] Permissions,
    DateTimeOffset CreatedAt,
    DateTimeOffset AbsoluteExpiresAt,
    SessionAssurance? Assurance = null)
{
    /// <summary>The assurance, or a password at the session's start when none was recorded.</summary>
    public SessionAssurance AssuranceOrDefault => Assurance ?? SessionAssurance.PasswordAt(CreatedAt);

    public ClaimsPrincipal ToPrincipal(string? jti = null)
    {
        var assurance = AssuranceOrDefault;
        var amr = assurance.Amr;
        var claims = new List<Claim>(12 + amr.Length + Roles.Length + Permissions.Length)
        {
            new(SessionClaims.Subject, UserId.ToString()),
            new(SessionClaims.TenantId, TenantId.ToString()),
            new(SessionClaims.Tenant, Tenant),
            new(SessionClaims.Name, Username),
            new(SessionClaims.SessionId, SessionId.ToString()),
            new(SessionClaims.Device, DeviceType),
            new(SessionClaims.CreatedAt, CreatedAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
            new(SessionClaims.ExpiresAt, AbsoluteExpiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
        };
        claims.Add(new Claim(SessionClaims.Acr, assurance.Acr));
        claims.Add(new Claim(SessionClaims.AuthTime, assurance.AuthTime.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)));
        foreach (var m in amr) claims.Add(new Claim(SessionClaims.Amr, m));
        if (assurance.EnrollmentOnly) claims.Add(new Claim(SessionClaims.MfaEnrollment, "required"));
        if (jti is not null) claims.Add(new Claim(SessionClaims.Jti, jti));
        foreach (var r in Roles) claims.Add(new Claim(SessionClaims.Role, r));
        foreach (var p in Permissions) claims.Add(new Claim(SessionClaims.Permission, p));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, SessionClaims.AuthenticationType, SessionClaims.Name, SessionClaims.Role));
    }
}
