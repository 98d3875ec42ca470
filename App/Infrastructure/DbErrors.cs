using Npgsql;

namespace SessionGate.Infrastructure;

/// <summary>What PostgreSQL errors mean to a caller.</summary>
public static class DbErrors
{
    public static bool IsUniqueViolation(this Microsoft.EntityFrameworkCore.DbUpdateException e) =>
        e.InnerException is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>What already exists, by the unique index that refused it (never the SQL or the values).</summary>
    public static string ConflictDetail(Microsoft.EntityFrameworkCore.DbUpdateException e) =>
        (e.InnerException as PostgresException)?.ConstraintName switch
        {
            { } c when c.StartsWith("IX_users_", StringComparison.Ordinal) => "A user with this username exists.",
            { } c when c.StartsWith("IX_roles_", StringComparison.Ordinal) => "A role with this name exists.",
            { } c when c.StartsWith("IX_tenants_", StringComparison.Ordinal) => "A tenant with this slug exists.",
            _ => "It already exists.",
        };
}
