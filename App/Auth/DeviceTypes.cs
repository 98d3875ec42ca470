namespace SessionGate.Auth;

public static class DeviceTypes
{
    public static readonly string[] All = ["web", "mobile", "desktop", "api"];
}
