using System.Buffers.Binary;
using System.Text;

namespace SessionGate.Sessions;

/// <summary>A Redis session entry: the live session, or a tombstone that names why it ended. Tombstones always win.</summary>
public sealed record SessionEntry(SessionSnapshot? Live, string? Revoked)
{
    public static SessionEntry Of(SessionSnapshot s) => new(s, null);
    public static SessionEntry Tombstone(string reason) => new(null, reason);

    // Compact on purpose (one entry per online session): "L<version>:" then fixed-width binary, or "T<reason>".
    // The version stays readable as text, so the Lua check-and-set in RedisStore can compare it.
    private const byte LiveTag = (byte)'L';
    private const byte TombstoneTag = (byte)'T';
    // The assurance trailer: 'A', the methods (AuthMethods bits), flags (1: enrolment only), auth_time in unix ms.
    private const byte AssuranceTag = (byte)'A';
    private const int AssuranceLength = 1 + 1 + 1 + 8;

    public byte[] Encode()
    {
        if (Live is not { } s) return Encoding.ASCII.GetBytes("T" + Revoked);
        var version = Encoding.ASCII.GetBytes($"L{s.Version}:");
        var name = Encoding.UTF8.GetBytes(s.Username);
        var buffer = new byte[version.Length + 48 + 1 + 32 + 1 + 16 * s.RoleIds.Length + 2 + name.Length + (s.Assurance is null ? 0 : AssuranceLength)];
        var span = buffer.AsSpan();
        version.CopyTo(span);
        var p = version.Length;
        s.UserId.TryWriteBytes(span[p..]);
        s.TenantId.TryWriteBytes(span[(p + 16)..]);
        s.SessionId.TryWriteBytes(span[(p + 32)..]);
        p += 48;
        span[p++] = DeviceCode(s.DeviceType);
        foreach (var t in (ReadOnlySpan<DateTimeOffset>)[s.CreatedAt, s.AbsoluteExpiresAt, s.IdleExpiresAt, s.LastTouchedAt])
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[p..], t.ToUnixTimeMilliseconds());
            p += 8;
        }
        span[p++] = (byte)s.RoleIds.Length;
        foreach (var role in s.RoleIds)
        {
            role.TryWriteBytes(span[p..]);
            p += 16;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(span[p..], (ushort)name.Length);
        name.CopyTo(span[(p + 2)..]);
        p += 2 + name.Length;
        // Appended, so an entry written without it (by an older version) still reads: as a password at the start.
        if (s.Assurance is { } a)
        {
            span[p] = AssuranceTag;
            span[p + 1] = (byte)a.Methods;
            span[p + 2] = a.EnrollmentOnly ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteInt64LittleEndian(span[(p + 3)..], a.AuthTime.ToUnixTimeMilliseconds());
        }
        return buffer;
    }

    /// <summary>Null for a missing or unreadable entry: either way the caller rebuilds it from PostgreSQL.</summary>
    public static SessionEntry? Decode(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return null;
        if (data[0] == TombstoneTag) return Tombstone(Encoding.ASCII.GetString(data[1..]));
        if (data[0] != LiveTag) return null;
        var colon = data.IndexOf((byte)':');
        if (colon < 2 || !long.TryParse(data[1..colon], out var version)) return null;
        var p = colon + 1;
        if (data.Length < p + 48 + 1 + 32 + 1 + 2) return null;
        var user = new Guid(data.Slice(p, 16));
        var tenant = new Guid(data.Slice(p + 16, 16));
        var session = new Guid(data.Slice(p + 32, 16));
        p += 48;
        var device = DeviceName(data[p++]);
        Span<DateTimeOffset> times = stackalloc DateTimeOffset[4];
        for (var i = 0; i < 4; i++, p += 8)
            times[i] = DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(data[p..]));
        int count = data[p++];
        if (data.Length < p + 16 * count + 2) return null;
        var roles = new Guid[count];
        for (var i = 0; i < count; i++, p += 16) roles[i] = new Guid(data.Slice(p, 16));
        int length = BinaryPrimitives.ReadUInt16LittleEndian(data[p..]);
        if (data.Length < p + 2 + length) return null;
        var username = Encoding.UTF8.GetString(data.Slice(p + 2, length));
        p += 2 + length;
        SessionAssurance? assurance = null;
        if (data.Length == p + AssuranceLength && data[p] == AssuranceTag)
            assurance = new SessionAssurance((AuthMethods)data[p + 1],
                DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64LittleEndian(data[(p + 3)..])), data[p + 2] == 1);
        else if (data.Length != p) return null;
        return Of(new SessionSnapshot(user, tenant, session, device, username, roles, times[0], times[1], times[2], times[3], version, assurance));
    }

    private static readonly string[] Devices = ["web", "mobile", "desktop", "api"];

    private static byte DeviceCode(string device)
    {
        var i = Array.IndexOf(Devices, device);
        return i < 0 ? (byte)0 : (byte)i;
    }

    private static string DeviceName(byte code) => code < Devices.Length ? Devices[code] : Devices[0];
}
