using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Admin;

/// <summary>Bootstrap (platform admin) and demo (tenant acme) data; each is created once.</summary>
internal static class Seed
{
    public static async Task RunAsync(IServiceProvider sp)
    {
        var db = sp.GetRequiredService<AppDbContext>();
        var passwords = sp.GetRequiredService<PasswordPolicy>();
        var time = sp.GetRequiredService<TimeProvider>();
        var bootstrap = sp.GetRequiredService<IOptions<BootstrapOptions>>().Value;
        var demo = sp.GetRequiredService<IOptions<DemoOptions>>().Value;

        if (!string.IsNullOrEmpty(bootstrap.AdminPassword))
        {
            var system = await TenantAsync(db, time, "system", "Platform");
            var role = await RoleAsync(db, time, system, "platform-admin", Permissions.All);
            await UserAsync(db, passwords, time, system, "admin", bootstrap.AdminPassword, role);
        }
        if (demo.Seed && !string.IsNullOrEmpty(demo.Password))
        {
            var acme = await TenantAsync(db, time, "acme", "Acme Corp");
            var admin = await RoleAsync(db, time, acme, "admin", Permissions.TenantAdmin);
            await RoleAsync(db, time, acme, "reporter", [Permissions.ReportsRead]);
            var user = await RoleAsync(db, time, acme, "user", []);
            await UserAsync(db, passwords, time, acme, "alice", demo.Password, admin);
            await UserAsync(db, passwords, time, acme, "bob", demo.Password, user);
        }
    }

    private static async Task<Tenant> TenantAsync(AppDbContext db, TimeProvider time, string slug, string name)
    {
        var tenant = await db.Tenants.FirstOrDefaultAsync(t => t.Slug == slug);
        if (tenant is not null) return tenant;
        tenant = new Tenant { Slug = slug, Name = name, CreatedAt = time.GetUtcNow() };
        db.Tenants.Add(tenant);
        await db.SaveChangesAsync();
        return tenant;
    }

    private static async Task<Role> RoleAsync(AppDbContext db, TimeProvider time, Tenant tenant, string name, string[] permissions)
    {
        var role = await db.Roles.FirstOrDefaultAsync(r => r.TenantId == tenant.Id && r.Name == name);
        if (role is not null) return role;
        role = new Role { TenantId = tenant.Id, Name = name, Permissions = [.. permissions], CreatedAt = time.GetUtcNow() };
        db.Roles.Add(role);
        await db.SaveChangesAsync();
        return role;
    }

    private static async Task UserAsync(AppDbContext db, PasswordPolicy passwords, TimeProvider time, Tenant tenant, string username, string password, Role role)
    {
        if (await db.Users.AnyAsync(u => u.TenantId == tenant.Id && u.NormalizedUsername == username)) return;
        var user = new User { TenantId = tenant.Id, Username = username, NormalizedUsername = username, PasswordHash = "", CreatedAt = time.GetUtcNow() };
        user.PasswordHash = passwords.HashNow(user, password);
        user.Roles.Add(new UserRole { RoleId = role.Id });
        db.Users.Add(user);
        await db.SaveChangesAsync();
    }
}
