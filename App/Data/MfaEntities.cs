using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace SessionGate.Data;

/// <summary>A user's TOTP (RFC 6238) secret; inactive until confirmed with a code.</summary>
public sealed class TotpFactor
{
    public Guid UserId { get; set; }
    /// <summary>The Base32 secret, protected with Data Protection (the server must read it back to check codes).</summary>
    public required string ProtectedSecret { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ConfirmedAt { get; set; }
    /// <summary>The newest time step accepted: a code is accepted once, and never one of an earlier step.</summary>
    public long LastTimeStep { get; set; }
}

/// <summary>One single-use recovery code, stored only as a hash.</summary>
public sealed class RecoveryCode
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid UserId { get; set; }
    /// <summary>SHA-256 of the user's id and the normalised code (80 random bits: a slow hash would add nothing).</summary>
    public required byte[] Hash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? UsedAt { get; set; }
}

/// <summary>A WebAuthn credential (passkey) of a user.</summary>
public sealed class Passkey
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid UserId { get; set; }
    public Guid TenantId { get; set; }
    public required byte[] CredentialId { get; set; }
    /// <summary>The COSE public key.</summary>
    public required byte[] PublicKey { get; set; }
    /// <summary>The authenticator's signature counter: an assertion must move it forward (unless the authenticator keeps none).</summary>
    public long SignCount { get; set; }
    public required string Name { get; set; }
    public Guid AaGuid { get; set; }
    public string[] Transports { get; set; } = [];
    public bool BackupEligible { get; set; }
    public bool BackedUp { get; set; }
    public string? AttestationFormat { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
}

internal sealed class TotpFactorConfiguration : IEntityTypeConfiguration<TotpFactor>
{
    public void Configure(EntityTypeBuilder<TotpFactor> b)
    {
        b.ToTable("mfa_totp");
        b.HasKey(t => t.UserId);
        b.HasOne<User>().WithOne().HasForeignKey<TotpFactor>(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class RecoveryCodeConfiguration : IEntityTypeConfiguration<RecoveryCode>
{
    public void Configure(EntityTypeBuilder<RecoveryCode> b)
    {
        b.ToTable("mfa_recovery_codes");
        b.HasIndex(r => new { r.UserId, r.Hash });
        b.HasOne<User>().WithManyCascading(r => r.UserId);
    }
}

internal sealed class PasskeyConfiguration : IEntityTypeConfiguration<Passkey>
{
    public void Configure(EntityTypeBuilder<Passkey> b)
    {
        b.ToTable("passkeys");
        // A credential id names one credential everywhere: a passwordless login finds it by this alone.
        b.HasIndex(p => p.CredentialId).IsUnique();
        b.HasIndex(p => p.UserId);
        b.Property(p => p.Name).HasMaxLength(64);
        b.Property(p => p.AttestationFormat).HasMaxLength(32);
        b.HasOne<User>().WithManyCascading(p => p.UserId);
    }
}
