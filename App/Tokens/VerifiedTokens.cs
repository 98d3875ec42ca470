using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using SessionGate.Revocation;

namespace SessionGate.Tokens;

/// <summary>The SHA-256 of a credential, as a dictionary key: the L1 never holds a credential itself.</summary>
public readonly record struct CredentialKey(ulong A, ulong B, ulong C, ulong D)
{
    public static CredentialKey Of(string credential)
    {
        var max = Encoding.UTF8.GetMaxByteCount(credential.Length);
        var rented = max > 1024 ? ArrayPool<byte>.Shared.Rent(max) : null;
        try
        {
            Span<byte> utf8 = rented ?? stackalloc byte[1024];
            var n = Encoding.UTF8.GetBytes(credential, utf8);
            Span<byte> hash = stackalloc byte[32];
            SHA256.HashData(utf8[..n], hash);
            return Of(hash);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    public static CredentialKey Of(ReadOnlySpan<byte> hash32)
    {
        var u = MemoryMarshal.Cast<byte, ulong>(hash32);
        return new CredentialKey(u[0], u[1], u[2], u[3]);
    }

    public static CredentialKey Of(Guid id)
    {
        Span<byte> b = stackalloc byte[16];
        id.TryWriteBytes(b);
        var u = MemoryMarshal.Cast<byte, ulong>(b);
        return new CredentialKey(u[0], u[1], 0, 0);
    }
}

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
        bus.On(RevocationPipeline.KeysKind, _ => _local.Clear());
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
