namespace SessionGate.Data;

/// <summary>Demo data (<c>Demo</c> section) that scripts/run turns on.</summary>
public sealed class DemoOptions
{
    /// <summary>Seeds tenant acme with alice (tenant admin) and bob (user).</summary>
    public bool Seed { get; set; }

    public string? Password { get; set; }
}
