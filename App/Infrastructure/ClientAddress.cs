using System.Net;
using System.Net.Sockets;

namespace SessionGate.Infrastructure;

/// <summary>
/// The caller's address: the connection's, or the one a trusted proxy forwarded (see
/// <see cref="ForwardedHeadersSettings"/>). The one place that reads it, for audit, limits and rate limiting.
/// </summary>
public static class ClientAddress
{
    /// <summary>As audited: the address itself.</summary>
    public static string? Of(HttpContext http) => http.Connection.RemoteIpAddress is { } ip ? Normalize(ip).ToString() : null;

    /// <summary>
    /// As counted by failed-login and request limits: an IPv4 address, or the /64 an IPv6 address belongs to (one
    /// subscriber usually holds a whole /64, so counting /128s would give an attacker 2^64 fresh addresses).
    /// </summary>
    public static string LimitKey(HttpContext http)
    {
        if (http.Connection.RemoteIpAddress is not { } ip) return "unknown";
        ip = Normalize(ip);
        if (ip.AddressFamily != AddressFamily.InterNetworkV6) return ip.ToString();
        var bytes = ip.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
}
