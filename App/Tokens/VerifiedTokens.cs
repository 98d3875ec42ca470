using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Caching;

namespace SessionGate.Tokens;

/// <summary>
/// Access tokens whose signature and claims this instance has verified, kept until they expire: a signature is
/// checked once per token per instance. Only the mode's reading of a valid token is cached, never a failure. An
/// entry is dropped when its signing key leaves the key set (rotation past retirement, emergency revocation).
/// Revocation is not decided here: every request still asks the mode's revocation state.
/// </summary>
public sealed class VerifiedTokens<T> where T : class
{
    private sealed record Entry(T Value, string Kid);

    private readonly TokenService _tokens;
    private readonly KeyRing _keys;
    private readonly TimeProvider _time;
    private readonly LocalMap<CredentialKey, Entry> _local;
    private readonly LocalCache _cache;

    public VerifiedTokens(TokenService tokens, KeyRing keys, TimeProvider time, LocalCache cache, InvalidationBus bus)
    {
        _cache = cache;
        _tokens = tokens;
        _keys = keys;
        _time = time;
        _local = cache.CreateMap<CredentialKey, Entry>("verified_tokens");
        bus.On<KeysInvalidated>(_ => _local.Clear());
    }

    /// <summary>The mode's reading of a valid access token, or null for anything that is not one.</summary>
    public async ValueTask<T?> GetAsync(string token, Func<JsonWebToken, T?> read, CancellationToken ct)
    {
        var key = CredentialKey.Of(token);
        if (_local.TryGet(key, out var hit) && _keys.IsUsable(hit.Kid)) return hit.Value;

        var jwt = await _tokens.ValidateAccessTokenAsync(token, ct);
        if (jwt is null || read(jwt) is not { } value) return null;
        var remaining = new DateTimeOffset(jwt.ValidTo, TimeSpan.Zero) + _tokens.ClockSkew - _time.GetUtcNow();
        if (remaining > TimeSpan.Zero)
            _local.FillFinal(key, new Entry(value, jwt.Kid), _cache.TimestampIn(remaining));
        return value;
    }
}
