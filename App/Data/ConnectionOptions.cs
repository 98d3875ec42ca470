namespace SessionGate.Data;

public sealed class ConnectionOptions
{
    public string? Postgres { get; set; }

    /// <summary>
    /// Pooled connections skip the <c>DISCARD ALL</c> that Npgsql sends on every return to the pool (it doubled the
    /// statements of each lookup): the app keeps no session state on a connection (no SET, temp tables or session
    /// locks; its advisory locks are transaction-scoped). An explicit <c>No Reset On Close</c> setting wins.
    /// </summary>
    public static string? Tune(string? connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString)) return connectionString;
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase)) builder.NoResetOnClose = true;
        return builder.ConnectionString;
    }
}
