using SessionGate.Caching;
namespace SessionGate.Sessions;

/// <summary>
/// "Every credential of this user issued below security version V is revoked": what a kick-all (ban, password
/// change) tells every instance, in one line instead of one tombstone per session. Floors are final L1 entries, as
/// tombstones are: they outlive a lost subscription, so a Redis write that failed does not let the user's sessions
/// back in while the relay retries it.
/// </summary>
public sealed class UserFloors
{
    private sealed record Floor(long Version, string Reason);

    private readonly LocalMap<Guid, Floor> _map;

    public UserFloors(LocalCache cache, InvalidationBus bus)
    {
        _map = cache.CreateMap<Guid, Floor>("user_floors");
        bus.On<UserFloorRaised>(raised =>
        {
            if (!(_map.TryGet(raised.UserId, out var current) && current.Version >= raised.Version))
                _map.FillFinal(raised.UserId, new Floor(raised.Version, raised.Reason));
        });
    }

    /// <summary>The reason a credential of the user at <paramref name="version"/> is revoked, or null if no floor refuses it.</summary>
    public string? Refuses(Guid userId, long version) =>
        _map.Count > 0 && _map.TryGet(userId, out var floor) && version < floor.Version ? floor.Reason : null;
}
