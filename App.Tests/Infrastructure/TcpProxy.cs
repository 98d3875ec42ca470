using System.Net;
using System.Net.Sockets;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// A TCP relay on a loopback port of its own, in front of a real server (PostgreSQL in the outage tests), so a test
/// can take that server away from one app without stopping it for everyone else. <see cref="Cut"/> closes the
/// listener (new connections are refused, as by a stopped server) and resets every relayed connection (as a crash
/// would); <see cref="Restore"/> listens again on the same port.
/// </summary>
public sealed class TcpProxy : IAsyncDisposable
{
    private readonly IPEndPoint _target;
    private readonly object _gate = new();
    private readonly List<(Socket Client, Socket Server)> _pairs = [];
    private TcpListener? _listener;
    private CancellationTokenSource _stop = new();
    private Task _accepting = Task.CompletedTask;

    public TcpProxy(string host, int port)
    {
        var address = IPAddress.TryParse(host, out var ip) ? ip : Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        _target = new IPEndPoint(address, port);
        Listen(0);
    }

    public int Port { get; private set; }

    public bool IsCut { get; private set; }

    /// <summary>Connections relayed so far (a test can check the app really went through the proxy).</summary>
    public int Relayed { get; private set; }

    private void Listen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Start();
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _listener = listener;
        _stop = new CancellationTokenSource();
        _accepting = AcceptLoopAsync(listener, _stop.Token);
    }

    private async Task AcceptLoopAsync(TcpListener listener, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptSocketAsync(ct);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            _ = RelayAsync(client, ct);
        }
    }

    private async Task RelayAsync(Socket client, CancellationToken ct)
    {
        var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.NoDelay = true;
        try
        {
            await server.ConnectAsync(_target, ct);
        }
        catch (Exception)
        {
            Reset(client);
            server.Dispose();
            return;
        }
        lock (_gate)
        {
            if (IsCut)
            {
                Reset(client);
                Reset(server);
                return;
            }
            _pairs.Add((client, server));
            Relayed++;
        }
        await Task.WhenAny(PumpAsync(client, server), PumpAsync(server, client));
        lock (_gate) _pairs.Remove((client, server));
        Reset(client);
        Reset(server);
    }

    private static async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer, SocketFlags.None);
                if (n == 0) return;
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Closes with RST, so the peer learns at once rather than at its next timeout.</summary>
    private static void Reset(Socket s)
    {
        try
        {
            s.LingerState = new LingerOption(true, 0);
            s.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Stops listening (connection refused) and resets every relayed connection.</summary>
    public void Cut()
    {
        List<(Socket Client, Socket Server)> pairs;
        lock (_gate)
        {
            if (IsCut) return;
            IsCut = true;
            _stop.Cancel();
            _listener?.Stop();
            _listener = null;
            pairs = [.. _pairs];
            _pairs.Clear();
        }
        foreach (var (client, server) in pairs)
        {
            Reset(client);
            Reset(server);
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public void Restore()
    {
        lock (_gate)
        {
            if (!IsCut) return;
            Listen(Port);
            IsCut = false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Cut();
        await _accepting;
        _stop.Dispose();
    }
}
