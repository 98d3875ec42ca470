namespace SessionGate.Auth;

/// <summary>Every hashing worker is busy and the wait ran out: the caller answers 503 with Retry-After.</summary>
public sealed class PasswordHashingBusyException() : Exception("Password hashing is saturated.");
