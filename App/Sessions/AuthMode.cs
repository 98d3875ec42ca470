namespace SessionGate.Sessions;

public enum AuthMode { Opaque, Blacklist, SessionCache }
