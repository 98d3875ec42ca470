using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace SessionGate.Caching;

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
