namespace SessionGate.Infrastructure;

/// <summary>Start-up data (<c>Bootstrap</c> section).</summary>
public sealed class BootstrapOptions
{
    /// <summary>At first start, creates platform admin <c>admin</c> in tenant <c>system</c> with this password.</summary>
    public string? AdminPassword { get; set; }
}

/// <summary>Demo data (<c>Demo</c> section) that scripts/run turns on.</summary>
public sealed class DemoOptions
{
    /// <summary>Seeds tenant acme with alice (tenant admin) and bob (user).</summary>
    public bool Seed { get; set; }

    public string? Password { get; set; }
}

/// <summary>The database (<c>Database</c> section).</summary>
public sealed class DatabaseOptions
{
    /// <summary>Apply EF Core migrations at start.</summary>
    public bool MigrateOnStart { get; set; }
}
