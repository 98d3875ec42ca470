using System.Collections.Concurrent;

namespace SessionGate.WebhookReceiver;

/// <summary>
/// What the webhooks told this service, in memory: sessions that ended (remembered as long as an access token of
/// theirs could still be alive) and, per user, the moment of the last change that makes older tokens and cached data
/// stale (roles changed, banned, deleted). Several instances of a service would keep this in their shared cache.
/// </summary>
public sealed class SessionSignals(TimeProvider time)
{
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _endedSessions = new();
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _userChangedAt = new();
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);

    /// <summary>Records a delivery id; false if it was seen already (deliveries are at least once).</summary>
    public bool FirstTime(string webhookId, TimeSpan remember)
    {
        Prune();
        return _seen.TryAdd(webhookId, time.GetUtcNow() + remember);
    }

    public void SessionEnded(Guid sessionId, TimeSpan remember) => _endedSessions[sessionId] = time.GetUtcNow() + remember;

    public void UserChanged(Guid userId, DateTimeOffset at) => _userChangedAt.AddOrUpdate(userId, at, (_, old) => old > at ? old : at);

    /// <summary>
    /// Whether a token of <paramref name="sessionId"/>, issued at <paramref name="issuedAt"/>, was revoked by an event.
    /// A token's <c>iat</c> has whole seconds: one issued in the second of a change is given the benefit of the doubt
    /// (SessionGate itself refuses it if it predates the change).
    /// </summary>
    public bool IsRevoked(Guid userId, Guid sessionId, DateTimeOffset issuedAt) =>
        _endedSessions.ContainsKey(sessionId)
        || (_userChangedAt.TryGetValue(userId, out var changed) && issuedAt.ToUnixTimeSeconds() < changed.ToUnixTimeSeconds());

    private void Prune()
    {
        var now = time.GetUtcNow();
        foreach (var (key, until) in _endedSessions) if (until < now) _endedSessions.TryRemove(key, out _);
        foreach (var (key, until) in _seen) if (until < now) _seen.TryRemove(key, out _);
    }
}
