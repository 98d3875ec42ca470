namespace SessionGate.Data;

/// <summary>The database (<c>Database</c> section).</summary>
public sealed class DatabaseOptions
{
    /// <summary>Apply EF Core migrations at start.</summary>
    public bool MigrateOnStart { get; set; }
}
