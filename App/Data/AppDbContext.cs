using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;

namespace SessionGate.Data;

public sealed class AppDbContext(DbContextOptions<AppDbContext> options) : DbContext(options), IDataProtectionKeyContext
{
    /// <summary>The assembly that holds the migrations (the project in migrations/).</summary>
    public const string MigrationsAssembly = "SessionGate.Migrations";

    public DbSet<Tenant> Tenants => Set<Tenant>();
    public DbSet<User> Users => Set<User>();
    public DbSet<Role> Roles => Set<Role>();
    public DbSet<UserRole> UserRoles => Set<UserRole>();
    public DbSet<Session> Sessions => Set<Session>();
    public DbSet<RefreshToken> RefreshTokens => Set<RefreshToken>();
    public DbSet<RevokedToken> RevokedTokens => Set<RevokedToken>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<SigningKey> SigningKeys => Set<SigningKey>();
    public DbSet<OutboxMessage> Outbox => Set<OutboxMessage>();
    public DbSet<ServerSecret> ServerSecrets => Set<ServerSecret>();
    public DbSet<RedisKeyspace> RedisKeyspaces => Set<RedisKeyspace>();
    public DbSet<DataProtectionKey> DataProtectionKeys => Set<DataProtectionKey>();
    public DbSet<TotpFactor> TotpFactors => Set<TotpFactor>();
    public DbSet<RecoveryCode> RecoveryCodes => Set<RecoveryCode>();
    public DbSet<Passkey> Passkeys => Set<Passkey>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(AppDbContext).Assembly);
}
