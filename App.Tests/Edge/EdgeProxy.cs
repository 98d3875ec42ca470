using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace SessionGate.Tests.Edge;

/// <summary>
/// A real nginx or Caddy (Debian's packages, which scripts/test installs) running the configuration shipped in
/// docs/edge/, rendered with this test's ports, as an ordinary process on a loopback port of its own.
/// </summary>
public sealed class EdgeProxy : IAsyncDisposable
{
    public const string SessionGateAddress = "127.0.0.1:8080";
    public const string ServiceAddress = "127.0.0.1:8081";

    private readonly Process _process;
    private readonly string _dir;

    private EdgeProxy(string name, Process process, string dir, int port)
    {
        Name = name;
        _process = process;
        _dir = dir;
        Port = port;
    }

    public string Name { get; }
    public int Port { get; }
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Whether the binary is installed (scripts/test installs both; the edge tests say so when it is not).</summary>
    public static string? Missing(string name) =>
        File.Exists(name == "nginx" ? "/usr/sbin/nginx" : "/usr/bin/caddy") ? null : $"{name} is not installed (scripts/test installs Debian's nginx and caddy).";

    /// <summary>The repository's docs/edge/ (found from the test binaries upwards).</summary>
    public static string DocsEdge()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "docs", "edge");
            if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "App.sln"))) return candidate;
        }
        throw new InvalidOperationException("docs/edge not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Starts <paramref name="name"/> (nginx or caddy) in front of the service, asking SessionGate; retries on a taken port.</summary>
    public static async Task<EdgeProxy> StartAsync(string name, int sessionGatePort, int servicePort)
    {
        Exception? last = null;
        for (var attempt = 0; attempt < 4; attempt++)
        {
            var port = FreePort();
            var dir = Directory.CreateTempSubdirectory("sg-edge-" + name + "-").FullName;
            // nginx's workers run as nobody and must reach their temp paths under here.
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead
                | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            var process = name == "nginx" ? StartNginx(dir, port, sessionGatePort, servicePort) : StartCaddy(dir, port, sessionGatePort, servicePort);
            var proxy = new EdgeProxy(name, process, dir, port);
            try
            {
                await proxy.WaitListeningAsync(TimeSpan.FromSeconds(30));
                return proxy;
            }
            catch (Exception e)
            {
                last = e;
                await proxy.DisposeAsync();
            }
        }
        throw new InvalidOperationException($"{name} did not start", last);
    }

    private static string Render(string file, int port, int sessionGatePort, int servicePort)
    {
        var text = File.ReadAllText(Path.Combine(DocsEdge(), file));
        foreach (var placeholder in new[] { SessionGateAddress, ServiceAddress })
        {
            if (!text.Contains(placeholder, StringComparison.Ordinal)) throw new InvalidOperationException($"docs/edge/{file} no longer names {placeholder}");
        }
        return text.Replace(SessionGateAddress, $"127.0.0.1:{sessionGatePort}", StringComparison.Ordinal)
            .Replace(ServiceAddress, $"127.0.0.1:{servicePort}", StringComparison.Ordinal)
            .Replace("127.0.0.1:8000", $"127.0.0.1:{port}", StringComparison.Ordinal)
            .Replace("http://:8000", $"http://:{port}", StringComparison.Ordinal);
    }

    private static Process StartNginx(string dir, int port, int sessionGatePort, int servicePort)
    {
        File.WriteAllText(Path.Combine(dir, "sessiongate.conf"), Render("nginx.conf", port, sessionGatePort, servicePort));
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            worker_processes 1;
            pid {{dir}}/nginx.pid;
            error_log {{dir}}/error.log warn;
            daemon off;
            events { worker_connections 512; }
            http {
                access_log off;
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                include {{dir}}/sessiongate.conf;
            }
            """);
        return Start("/usr/sbin/nginx", ["-p", dir, "-e", Path.Combine(dir, "error.log"), "-c", Path.Combine(dir, "nginx.conf")], dir, null);
    }

    private static Process StartCaddy(string dir, int port, int sessionGatePort, int servicePort)
    {
        // No admin endpoint (several Caddys run at once), no state outside this directory.
        File.WriteAllText(Path.Combine(dir, "Caddyfile"), "{\n\tadmin off\n}\n\n" + Render("Caddyfile", port, sessionGatePort, servicePort));
        var env = new Dictionary<string, string> { ["HOME"] = dir, ["XDG_DATA_HOME"] = Path.Combine(dir, "data"), ["XDG_CONFIG_HOME"] = Path.Combine(dir, "config") };
        return Start("/usr/bin/caddy", ["run", "--config", Path.Combine(dir, "Caddyfile"), "--adapter", "caddyfile"], dir, env);
    }

    private static Process Start(string file, string[] args, string dir, Dictionary<string, string>? env)
    {
        var info = new ProcessStartInfo(file, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = dir,
        };
        foreach (var (k, v) in env ?? []) info.Environment[k] = v;
        var process = Process.Start(info) ?? throw new InvalidOperationException(file + " did not start");
        var log = new StreamWriter(Path.Combine(dir, "process.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitListeningAsync(TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited: {Log()}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }
        throw new TimeoutException($"{Name} is not listening on {Port}: {Log()}");
    }

    /// <summary>What the proxy wrote (its own log and error log), for failure messages.</summary>
    public string Log()
    {
        var parts = new List<string>();
        foreach (var file in new[] { "process.log", "error.log" })
        {
            var path = Path.Combine(_dir, file);
            try
            {
                if (File.Exists(path)) parts.Add(File.ReadAllText(path));
            }
            catch (IOException)
            {
                // still being written
            }
        }
        return string.Join("\n", parts);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM: nginx's master then stops its workers (SIGKILL would orphan them); Caddy shuts down.
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!) await term.WaitForExitAsync();
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // a worker still closing a file: the temp directory is left behind
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
