using System.ComponentModel;
using System.Security.Claims;
using Microsoft.AspNetCore.Mvc;
using SessionGate.Sessions;

namespace SessionGate.Admin;

/// <summary>
/// What every /admin request needs, resolved once per request by <see cref="AdminTenancy"/>: the caller, the tenant
/// the request acts in, and (for /admin/users/{id}) the target user. Handlers take it; none derives it again.
/// </summary>
public sealed class AdminContext
{
    private ClaimsPrincipal? _caller;
    private TargetUser? _target;

    public ClaimsPrincipal Caller => _caller ?? throw new InvalidOperationException("The admin tenancy filter did not run.");
    public Guid CallerId { get; private set; }
    public Guid TenantId { get; private set; }
    public bool IsPlatformAdmin { get; private set; }
    public TargetUser Target => _target ?? throw new InvalidOperationException("This route has no target user.");

    internal void SetTenant(ClaimsPrincipal caller, Guid tenantId)
    {
        _caller = caller;
        CallerId = caller.UserId();
        IsPlatformAdmin = caller.IsPlatformAdmin();
        TenantId = tenantId;
    }

    internal void SetTarget(TargetUser target) => _target = target;

    /// <summary>
    /// No escalation: an admin grants only permissions it holds itself. The platform admin is above this rule.
    /// </summary>
    public bool MayGrant(IEnumerable<string> permissions)
    {
        if (IsPlatformAdmin) return true;
        var held = Caller.PermissionsOf().ToHashSet(StringComparer.Ordinal);
        return permissions.All(held.Contains);
    }
}

/// <summary>A user an admin route acts on, found inside the request's tenant.</summary>
public sealed record TargetUser(Guid Id, string Username, string NormalizedUsername, string TenantSlug, string[] Permissions);

/// <summary>
/// The binding every /admin handler declares: the resolved <see cref="AdminContext"/>, and the <c>tenant</c> query
/// parameter (documented here; the tenancy filter reads it).
/// </summary>
public readonly record struct AdminScope(
    AdminContext Admin,
    [property: FromQuery(Name = "tenant"), Description("Platform admin only: the slug of the tenant to act in (default: your own). Ignored for anyone else.")]
    string? Tenant);
