using System.Text;
using System.Text.Json.Serialization;
using SessionGate.Caching;
using SessionGate.Data;
using StackExchange.Redis;

namespace SessionGate.Sessions;

public sealed record RoleDefinition(Guid Id, string Name, string[] Permissions);

/// <summary>A tenant's roles with their permissions, at the tenant's <see cref="Version"/> (it only moves forward).</summary>
public sealed record RoleSet(Guid TenantId, string TenantSlug, long Version, RoleDefinition[] Roles)
{
    private readonly Dictionary<Guid, RoleDefinition> _byId = Roles.ToDictionary(r => r.Id);

    public bool TryGet(Guid roleId, out RoleDefinition role) => _byId.TryGetValue(roleId, out role!);

    /// <summary>Role names and the union of their permissions, both sorted; ids no longer in the tenant are skipped.</summary>
    public (string[] Roles, string[] Permissions) Resolve(Guid[] roleIds)
    {
        if (roleIds.Length == 0) return ([], []);
        var names = new List<string>(roleIds.Length);
        var permissions = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var id in roleIds)
        {
            if (!_byId.TryGetValue(id, out var role)) continue;
            names.Add(role.Name);
            permissions.UnionWith(role.Permissions);
        }
        names.Sort(StringComparer.Ordinal);
        return ([.. names], [.. permissions]);
    }

    public bool Covers(Guid[] roleIds) => roleIds.All(_byId.ContainsKey);

    internal byte[] Encode() =>
        [.. Encoding.ASCII.GetBytes($"V{Version}:"), .. JsonSerializer.SerializeToUtf8Bytes(new StoredRoleSet(TenantSlug, Roles), RoleSetJson.Default.StoredRoleSet)];

    internal static RoleSet? Decode(Guid tenantId, ReadOnlySpan<byte> data)
    {
        var colon = data.IndexOf((byte)':');
        if (data.IsEmpty || data[0] != (byte)'V' || colon < 2 || !long.TryParse(data[1..colon], out var version)) return null;
        var stored = JsonSerializer.Deserialize(data[(colon + 1)..], RoleSetJson.Default.StoredRoleSet);
        return stored is null ? null : new RoleSet(tenantId, stored.Slug, version, stored.Roles);
    }
}

internal sealed record StoredRoleSet(string Slug, RoleDefinition[] Roles);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(StoredRoleSet))]
internal sealed partial class RoleSetJson : JsonSerializerContext;

/// <summary>
/// Role sets for the hot path: the L1, then Redis (<c>{t:&lt;tenant&gt;}:roles</c>), then PostgreSQL. A role change
/// rewrites the Redis copy and invalidates every instance's L1 (kind <c>r</c>).
/// </summary>
public sealed class RoleSets
{
    private readonly RedisStore _redis;
    private readonly IDbContextFactory<AppDbContext> _db;
    private readonly LocalCache _cache;
    private readonly LocalMap<Guid, RoleSet> _local;

    public RoleSets(RedisStore redis, IDbContextFactory<AppDbContext> db, LocalCache cache, InvalidationBus bus)
    {
        _redis = redis;
        _db = db;
        _cache = cache;
        _local = cache.CreateMap<Guid, RoleSet>("role_sets");
        bus.On<RoleSetInvalidated>(m => _local.Remove(m.TenantId));
    }

    /// <summary>
    /// The tenant's role set, covering <paramref name="roleIds"/> if the tenant still has them, at
    /// <paramref name="minVersion"/> or newer (a role change Redis has not proven it holds).
    /// </summary>
    public async ValueTask<RoleSet> GetAsync(Guid tenantId, Guid[] roleIds, bool databaseOnly, CancellationToken ct, long minVersion = 0)
    {
        if (!databaseOnly && _local.TryGet(tenantId, out var local) && local.Covers(roleIds) && local.Version >= minVersion) return local;
        if (databaseOnly) return await LoadAsync(tenantId, ct);

        var sequence = _cache.Sequence;
        var stored = await _redis.GetRoleSetAsync(tenantId);
        // A role id the copy does not know may be a role created since, and an older copy may be what a Redis that
        // came back older holds: PostgreSQL settles both, and its answer is written back (only forward).
        if (stored is null || !stored.Covers(roleIds) || stored.Version < minVersion)
        {
            stored = await LoadAsync(tenantId, ct);
            try
            {
                await _redis.SetRoleSetAsync(stored);
            }
            catch (RedisServerException)
            {
                return stored; // Redis refuses writes: this answer stands for this request, and is not cached
            }
        }
        _local.Fill(tenantId, stored, Guid.Empty, sequence);
        return stored;
    }

    /// <summary>Re-reads the tenant's roles from PostgreSQL and writes them to Redis (the outbox applies this).</summary>
    public async Task RefreshAsync(Guid tenantId, CancellationToken ct)
    {
        var set = await LoadAsync(tenantId, ct);
        await _redis.SetRoleSetAsync(set);
        _local.Remove(tenantId);
    }

    private async Task<RoleSet> LoadAsync(Guid tenantId, CancellationToken ct)
    {
        await using var db = await _db.CreateDbContextAsync(ct);
        var tenant = await db.Tenants.AsNoTracking().Where(t => t.Id == tenantId)
            .Select(t => new { t.Slug, t.RolesVersion }).FirstOrDefaultAsync(ct);
        var roles = await db.Roles.AsNoTracking().Where(r => r.TenantId == tenantId)
            .Select(r => new RoleDefinition(r.Id, r.Name, r.Permissions.ToArray())).ToArrayAsync(ct);
        return new RoleSet(tenantId, tenant?.Slug ?? "", tenant?.RolesVersion ?? 0, roles);
    }
}
