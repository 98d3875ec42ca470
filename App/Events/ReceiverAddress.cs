using System.Net;
using System.Net.Sockets;

namespace SessionGate.Events;

/// <summary>
/// Where a webhook may go. Unless <see cref="WebhookOptions.AllowPrivateNetworks"/> is set, only <c>https</c> on a
/// public address: a URL naming a private, loopback, link-local or otherwise special address (or a name that resolves
/// only to such) is refused when it is registered, and <see cref="ConnectAsync"/> checks every address again when it
/// connects, so a name that resolves elsewhere later (DNS rebinding) cannot reach inside the network either.
/// </summary>
public static class ReceiverAddress
{
    private static readonly IPNetwork[] NotPublic =
    [
        IPNetwork.Parse("0.0.0.0/8"), IPNetwork.Parse("10.0.0.0/8"), IPNetwork.Parse("100.64.0.0/10"), IPNetwork.Parse("127.0.0.0/8"),
        IPNetwork.Parse("169.254.0.0/16"), IPNetwork.Parse("172.16.0.0/12"), IPNetwork.Parse("192.0.0.0/24"), IPNetwork.Parse("192.0.2.0/24"),
        IPNetwork.Parse("192.88.99.0/24"), IPNetwork.Parse("192.168.0.0/16"), IPNetwork.Parse("198.18.0.0/15"), IPNetwork.Parse("198.51.100.0/24"),
        IPNetwork.Parse("203.0.113.0/24"), IPNetwork.Parse("224.0.0.0/3"),
        IPNetwork.Parse("::/127"), IPNetwork.Parse("100::/64"), IPNetwork.Parse("2001:db8::/32"), IPNetwork.Parse("fc00::/7"),
        IPNetwork.Parse("fe80::/10"), IPNetwork.Parse("fec0::/10"), IPNetwork.Parse("ff00::/8"),
    ];

    /// <summary>A public unicast address (an IPv4 address mapped or translated into IPv6 is judged as IPv4).</summary>
    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        else if (address.AddressFamily == AddressFamily.InterNetworkV6 && IPNetwork.Parse("64:ff9b::/96").Contains(address))
            address = new IPAddress(address.GetAddressBytes()[12..]);
        return !NotPublic.Any(n => n.Contains(address));
    }

    /// <summary>Why <paramref name="url"/> cannot be a receiver, or null when it can.</summary>
    public static async Task<string?> RefuseAsync(string? url, bool allowPrivate, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(url)) return "url is required.";
        if (url.Length > 2048) return "url is too long (at most 2048 characters).";
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host)) return "url must be an absolute URL.";
        if (uri.Scheme != Uri.UriSchemeHttps && !(allowPrivate && uri.Scheme == Uri.UriSchemeHttp)) return "url must use https.";
        if (!string.IsNullOrEmpty(uri.UserInfo)) return "url must not carry a user name or password.";
        if (!string.IsNullOrEmpty(uri.Fragment)) return "url must not have a fragment.";
        if (allowPrivate) return null;

        const string inside = "url must not point to a private, loopback or link-local address (Webhooks:AllowPrivateNetworks).";
        var host = uri.IdnHost.TrimEnd('.').ToLowerInvariant();
        if (IPAddress.TryParse(host.Trim('[', ']'), out var literal)) return IsPublic(literal) ? null : inside;
        if (host == "localhost" || host.EndsWith(".localhost", StringComparison.Ordinal) || !host.Contains('.')) return inside;
        try
        {
            // A name that resolves now only inside the network is refused at once; one that does not resolve yet is
            // accepted and checked at every connection.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(2));
            var addresses = await Dns.GetHostAddressesAsync(host, timeout.Token);
            if (addresses.Length > 0 && !addresses.Any(IsPublic)) return inside;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
        }
        return null;
    }

    /// <summary>Connects to the receiver's host only on an allowed address (see the class summary); refuses otherwise.</summary>
    public static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivate, CancellationToken ct)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host.Trim('[', ']'), out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, ct);
        var allowed = allowPrivate ? addresses : addresses.Where(IsPublic).ToArray();
        if (allowed.Length == 0) throw new ReceiverRefusedException();
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

/// <summary>The receiver's name resolved only to addresses a webhook may not reach.</summary>
public sealed class ReceiverRefusedException() : IOException("The receiver's address is private, loopback or link-local.");
