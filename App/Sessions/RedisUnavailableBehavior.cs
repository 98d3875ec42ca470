namespace SessionGate.Sessions;

public enum RedisUnavailableBehavior { FailClosed, FallbackToPostgres }
