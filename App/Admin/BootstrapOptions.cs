namespace SessionGate.Admin;

/// <summary>Start-up data (<c>Bootstrap</c> section).</summary>
public sealed class BootstrapOptions
{
    /// <summary>At first start, creates platform admin <c>admin</c> in tenant <c>system</c> with this password.</summary>
    public string? AdminPassword { get; set; }
}
