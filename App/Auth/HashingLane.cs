namespace SessionGate.Auth;

/// <summary>Where a hash waits: known devices and signed-in callers first (fair by device or user), others fair by network.</summary>
public readonly record struct HashingLane(bool Priority, string[] Path)
{
    public static HashingLane KnownDevice(Guid device) => new(true, ["d:" + device.ToString("N")]);

    public static HashingLane SignedIn(Guid user) => new(true, ["u:" + user.ToString("N")]);

    public static HashingLane NewDevice(ClientNetwork network) => new(false, network.FairPath);
}
