using System.Net;
using System.Net.Sockets;

namespace SessionGate.Auth;

/// <summary>
/// The networks a login comes from, as the limits count them and as the hashing queue shares its workers.
/// <para>
/// Limits: an IPv4 address; for IPv6 the /64 (one subscriber usually holds a whole /64, so counting /128s would
/// give an attacker 2^64 fresh addresses), and the /56 and /48 around it (a subscriber's and a site's usual
/// allocation), so a cheap block of /64s adds up.
/// </para>
/// <para>
/// Fair sharing: IPv4 /8, /16, /24, address; IPv6 /32, /48, /56, /64. The queue serves these levels in turn, so
/// an attacker's backlog from one network delays a login from another by at most a turn per level.
/// </para>
/// </summary>
public sealed record ClientNetwork(string? Address, string LimitKey, string? Slash56, string? Slash48, string[] FairPath)
{
    /// <summary>The caller's networks (the address a trusted proxy forwarded, see <see cref="ClientAddress"/>).</summary>
    public static ClientNetwork Of(HttpContext http) => Of(http.Connection.RemoteIpAddress);

    public static ClientNetwork Of(IPAddress? ip)
    {
        if (ip is null) return new ClientNetwork(null, "unknown", null, null, ["?"]);
        if (ip.IsIPv4MappedToIPv6) ip = ip.MapToIPv4();
        var bytes = ip.GetAddressBytes();
        if (ip.AddressFamily != AddressFamily.InterNetworkV6)
            return new ClientNetwork(ip.ToString(), ip.ToString(), null, null,
                [$"4:{bytes[0]}", $"4:{bytes[0]}.{bytes[1]}", $"4:{bytes[0]}.{bytes[1]}.{bytes[2]}", "4:" + ip]);
        return new ClientNetwork(ip.ToString(), Prefix(bytes, 64), Prefix(bytes, 56), Prefix(bytes, 48),
            [Prefix(bytes, 32), Prefix(bytes, 48), Prefix(bytes, 56), Prefix(bytes, 64)]);
    }

    // The same text as ClientAddress.LimitKey for a /64, so the request limiter and the login limits agree.
    private static string Prefix(byte[] address, int bits)
    {
        var bytes = (byte[])address.Clone();
        Array.Clear(bytes, bits / 8, 16 - bits / 8);
        return new IPAddress(bytes) + "/" + bits;
    }
}
