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
    /// The "may manage" rule, the one shape every admin route asks: the caller may act on a set of permissions (a
    /// grant, a role, a user holding them) only if it holds every one itself; no escalation. The platform admin is
    /// above this rule.
    /// </summary>
    public bool MayManage(IEnumerable<string> permissions)
    {
        if (IsPlatformAdmin) return true;
        var held = Caller.PermissionsOf().ToHashSet(StringComparer.Ordinal);
        return permissions.All(held.Contains);
    }

    /// <summary>A user is managed (changed, banned, kicked, deleted) by an admin holding every permission the user holds.</summary>
    public bool MayManage(TargetUser user) => MayManage(user.Permissions);

    /// <summary>A tenant named in a path (its slug): a tenant admin manages only its own; the platform admin any.</summary>
    public bool MayManageTenant(string slug) =>
        IsPlatformAdmin || string.Equals(slug, Caller.FindFirstValue(SessionClaims.Tenant), StringComparison.Ordinal);
}

/// <summary>A user an admin route acts on, found inside the request's tenant.</summary>
public sealed record TargetUser(Guid Id, string Username, string NormalizedUsername, string TenantSlug, string[] Permissions);
