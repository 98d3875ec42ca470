using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>One login attempt's reservations and the counts including it.</summary>
public sealed record LoginReservation(RedisKey AllKey, RedisKey PairKey, RedisKey LockedKey, RedisKey AddressKey, string AddressHash,
    long AccountFailures, long PairFailures, long AddressFailures, TimeSpan AccountResetsIn, TimeSpan PairResetsIn);
