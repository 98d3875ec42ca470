using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>A tenant's second-factor policy: who must have one.</summary>
public static class MfaPolicies
{
    public const string None = "none";
    /// <summary>Users holding any permission that an /admin route requires (everything but reports:read).</summary>
    public const string Admins = "admins";
    public const string All = "all";

    public static readonly string[] Values = [None, Admins, All];

    public static bool Covers(string policy, IEnumerable<string> permissions) => policy switch
    {
        All => true,
        Admins => permissions.Any(p => Permissions.Administrative.Contains(p, StringComparer.Ordinal)),
        _ => false,
    };

    /// <summary>Whether the user's tenant requires a second factor of this user (its permissions read from PostgreSQL).</summary>
    public static async Task<bool> RequiresAsync(AppDbContext db, Guid userId, string policy, CancellationToken ct)
    {
        if (policy == None) return false;
        if (policy == All) return true;
        var held = await (from ur in db.UserRoles
                          join r in db.Roles on ur.RoleId equals r.Id
                          where ur.UserId == userId
                          select r.Permissions).ToListAsync(ct);
        return Covers(policy, held.SelectMany(p => p));
    }

    /// <summary>Whether the caller's tenant requires a second factor of the caller (its permissions from its claims).</summary>
    public static async Task<bool> RequiresAsync(AppDbContext db, ClaimsPrincipal caller, CancellationToken ct)
    {
        var tenantId = caller.TenantIdOf();
        var policy = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId).Select(t => t.MfaPolicy).FirstOrDefaultAsync(ct) ?? None;
        return Covers(policy, caller.PermissionsOf());
    }
}
