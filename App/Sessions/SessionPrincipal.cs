using static SessionGate.Infrastructure.SessionClaims;

namespace SessionGate.Sessions;

/// <summary>What a session principal's claims (<see cref="SessionClaims"/>) say in the session model's terms.</summary>
public static class SessionPrincipal
{
    /// <summary>The session's assurance as its claims say; a principal without them counts as a password at its start.</summary>
    public static SessionAssurance AssuranceOf(this ClaimsPrincipal p)
    {
        var at = long.TryParse(p.FindFirstValue(AuthTime), out var t) ? DateTimeOffset.FromUnixTimeSeconds(t)
            : DateTimeOffset.FromUnixTimeSeconds(long.Parse(p.FindFirstValue(CreatedAt) ?? "0", System.Globalization.CultureInfo.InvariantCulture));
        var methods = SessionAssurance.Parse(p.FindAll(Amr).Select(c => c.Value));
        return new SessionAssurance(methods == AuthMethods.None ? AuthMethods.Password : methods, at, p.IsEnrolmentOnly());
    }

    public static bool IsPlatformAdmin(this ClaimsPrincipal p) =>
        p.HasClaim(Permission, Permissions.PlatformAdmin) && p.HasClaim(Tenant, Permissions.PlatformTenant);
}
