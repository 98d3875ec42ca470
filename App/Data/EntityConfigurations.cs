using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace SessionGate.Data;

internal sealed class TenantConfiguration : IEntityTypeConfiguration<Tenant>
{
    public void Configure(EntityTypeBuilder<Tenant> b)
    {
        b.ToTable("tenants");
        b.Property(t => t.Slug).HasMaxLength(64);
        b.HasIndex(t => t.Slug).IsUnique();
        b.Property(t => t.Name).HasMaxLength(200);
        b.Property(t => t.LoginPolicy).HasConversion<string>().HasMaxLength(32);
        b.Property(t => t.OnLimit).HasConversion<string>().HasMaxLength(32);
        b.Property(t => t.MfaPolicy).HasMaxLength(16).HasDefaultValue("none");
    }
}

internal sealed class UserConfiguration : IEntityTypeConfiguration<User>
{
    public void Configure(EntityTypeBuilder<User> b)
    {
        b.ToTable("users");
        b.Property(u => u.Username).HasMaxLength(128);
        b.Property(u => u.NormalizedUsername).HasMaxLength(128);
        b.HasIndex(u => new { u.TenantId, u.NormalizedUsername }).IsUnique();
        b.Property(u => u.PasswordHash).HasMaxLength(512);
        b.Property(u => u.BanReason).HasMaxLength(500);
        b.Property(u => u.LastRevokeReason).HasMaxLength(ColumnWidths.Reason);
        b.Property(u => u.SessionsEndedReason).HasMaxLength(ColumnWidths.Reason);
        b.HasOne(u => u.Tenant).WithManyCascading(u => u.TenantId);
        b.HasMany(u => u.Roles).WithOne().HasForeignKey(r => r.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class RoleConfiguration : IEntityTypeConfiguration<Role>
{
    public void Configure(EntityTypeBuilder<Role> b)
    {
        b.ToTable("roles");
        b.Property(r => r.Name).HasMaxLength(64);
        b.HasIndex(r => new { r.TenantId, r.Name }).IsUnique();
        b.HasOne<Tenant>().WithManyCascading(r => r.TenantId);
    }
}

internal sealed class UserRoleConfiguration : IEntityTypeConfiguration<UserRole>
{
    public void Configure(EntityTypeBuilder<UserRole> b)
    {
        b.ToTable("user_roles");
        b.HasKey(ur => new { ur.UserId, ur.RoleId });
        b.HasIndex(ur => ur.RoleId);
        b.HasOne(ur => ur.Role).WithManyCascading(ur => ur.RoleId);
    }
}

internal sealed class SessionConfiguration : IEntityTypeConfiguration<Session>
{
    public void Configure(EntityTypeBuilder<Session> b)
    {
        b.ToTable("sessions");
        b.HasIndex(s => s.SecretHash).IsUnique();
        // Online-session listings and login policies read live sessions only, newest first, by index.
        b.HasIndex(s => new { s.UserId, s.CreatedAt }).WhereNull(nameof(Session.RevokedAt)).HasDatabaseName("IX_sessions_live_by_user");
        // Admin listings page through a tenant's live sessions by id (v7: creation order) and its online users by
        // user id, from these indexes, with keyset cursors: a deep page costs what the first does.
        b.HasIndex(s => new { s.TenantId, s.Id }).WhereNull(nameof(Session.RevokedAt)).HasDatabaseName("IX_sessions_live_by_tenant");
        b.HasIndex(s => new { s.TenantId, s.UserId }).WhereNull(nameof(Session.RevokedAt)).HasDatabaseName("IX_sessions_live_users_by_tenant");
        // Rebuilding a user's revocations (Blacklist) reads the sessions that ended recently.
        b.HasIndex(s => new { s.UserId, s.RevokedAt }).WhereNotNull(nameof(Session.RevokedAt)).HasDatabaseName("IX_sessions_revoked_by_user");
        b.Property(s => s.DeviceType).HasMaxLength(16);
        b.Property(s => s.Ip).HasMaxLength(ColumnWidths.Ip);
        b.Property(s => s.UserAgent).HasMaxLength(512);
        b.Property(s => s.RevokeReason).HasMaxLength(ColumnWidths.Reason);
        b.Property(s => s.CurrentJti).HasMaxLength(ColumnWidths.Jti);
        b.Property(s => s.Acr).HasMaxLength(8);
        b.HasOne(s => s.User).WithManyCascading(s => s.UserId);
    }
}

internal sealed class RefreshTokenConfiguration : IEntityTypeConfiguration<RefreshToken>
{
    public void Configure(EntityTypeBuilder<RefreshToken> b)
    {
        b.ToTable("refresh_tokens");
        b.HasIndex(r => r.TokenHash).IsUnique();
        b.HasIndex(r => r.SessionId);
        b.HasOne<Session>().WithManyCascading(r => r.SessionId);
    }
}

internal sealed class RevokedTokenConfiguration : IEntityTypeConfiguration<RevokedToken>
{
    public void Configure(EntityTypeBuilder<RevokedToken> b)
    {
        b.ToTable("revoked_tokens");
        b.HasNaturalKey(r => r.Jti, ColumnWidths.Jti);
        b.Property(r => r.Reason).HasMaxLength(ColumnWidths.Reason);
        b.HasIndex(r => new { r.UserId, r.ExpiresAt });
    }
}

internal sealed class AuditEventConfiguration : IEntityTypeConfiguration<AuditEvent>
{
    public void Configure(EntityTypeBuilder<AuditEvent> b)
    {
        b.ToTable("audit_events");
        b.Property(a => a.Id).UseIdentityAlwaysColumn();
        b.Property(a => a.Type).HasMaxLength(64);
        b.Property(a => a.Ip).HasMaxLength(ColumnWidths.Ip);
        b.Property(a => a.Detail).HasColumnType("jsonb");
        b.HasIndex(a => new { a.TenantId, a.Id });
        b.HasIndex(a => new { a.SubjectId, a.Id });
        b.HasIndex(a => a.At); // the retention job deletes by age
    }
}

internal sealed class SigningKeyConfiguration : IEntityTypeConfiguration<SigningKey>
{
    public void Configure(EntityTypeBuilder<SigningKey> b)
    {
        b.ToTable("signing_keys");
        b.HasNaturalKey(k => k.Kid, 64);
        b.Property(k => k.Algorithm).HasMaxLength(16);
    }
}

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> b)
    {
        b.ToTable("outbox");
        // The relay looks for rows not yet applied; the replay and the clean-up go by age.
        b.IsQueue(o => o.Id, "IX_outbox_pending", handledAt: nameof(OutboxMessage.AppliedAt), age: o => o.CreatedAt);
        b.Property(o => o.Kind).HasMaxLength(32);
        b.Property(o => o.Payload).HasColumnType("jsonb");
        // The transaction id, as a bigint (xid8 has no cast to it but through text): the relay and every instance
        // follow the outbox by it, and rows set aside are read on their own.
        b.Property(o => o.TxId).HasDefaultValueSql("(pg_current_xact_id()::text::bigint)").ValueGeneratedOnAdd();
        b.HasIndex(o => o.TxId);
        b.HasIndex(o => o.Id, "IX_outbox_set_aside").WhereNotNull(nameof(OutboxMessage.SetAsideAt));
        b.Property(o => o.LastError).HasMaxLength(200);
    }
}

internal sealed class ServerSecretConfiguration : IEntityTypeConfiguration<ServerSecret>
{
    public void Configure(EntityTypeBuilder<ServerSecret> b)
    {
        b.ToTable("server_secrets");
        b.HasNaturalKey(s => s.Name, 64);
    }
}

internal sealed class RedisKeyspaceConfiguration : IEntityTypeConfiguration<RedisKeyspace>
{
    public void Configure(EntityTypeBuilder<RedisKeyspace> b)
    {
        b.ToTable("redis_keyspaces");
        b.HasNaturalKey(k => k.Prefix, 128);
        b.Property(k => k.Writer).HasMaxLength(64);
    }
}
