using System.Diagnostics;
using System.Text;

namespace SessionGate.Bench.FaultRig;

/// <summary>The rig's clock, its log, and the processes it runs: the fault hook (scripts/faults.d/hook) and redis-cli.</summary>
public static class Rig
{
    private static readonly Stopwatch Clock = Stopwatch.StartNew();

    /// <summary>Milliseconds since the driver started; every event and request is stamped with it.</summary>
    public static double Now => Clock.Elapsed.TotalMilliseconds;

    public static string Hook { get; set; } = "scripts/faults.d/hook";

    public static void Log(string message) => Console.Error.WriteLine($"    [{Now / 1000:F1}s] {message}");

    public static Task DelayUntil(double ms) => ms > Now ? Task.Delay(TimeSpan.FromMilliseconds(ms - Now)) : Task.CompletedTask;

    /// <summary>Runs a program; returns (exit code, stdout, stderr). A run past the timeout is killed and reported as exit -1.</summary>
    public static async Task<(int Code, string Out, string Err)> RunAsync(string file, IEnumerable<string> args, double timeoutSeconds, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new RigException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeoutSeconds));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await p.WaitForExitAsync();
            return (-1, await stdout, await stderr);
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>One fault action through the hook (it knows the servers' directories and pids); throws when it fails.</summary>
    public static async Task<string> HookAsync(params string[] args)
    {
        var started = Now;
        var (code, output, error) = await RunAsync(Hook, args, 120);
        if (code != 0) throw new RigException($"hook {string.Join(' ', args)} failed ({code}): {error.Trim()} {output.Trim()}");
        Log($"hook {string.Join(' ', args)} ({(Now - started) / 1000:F2} s)");
        return output.Trim();
    }

    /// <summary>redis-cli against one loopback port; null when it fails or takes over <paramref name="timeoutSeconds"/>.</summary>
    public static async Task<string?> RedisAsync(int port, double timeoutSeconds, params string[] args)
    {
        var (code, output, _) = await RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", port.ToString(), .. args], timeoutSeconds);
        return code == 0 ? output.TrimEnd() : null;
    }

    public static Task<string?> RedisAsync(int port, params string[] args) => RedisAsync(port, 3, args);

    /// <summary>Commands on one connection (e.g. READONLY then a read on a replica), raw output.</summary>
    public static async Task<string?> RedisPipeAsync(int port, params string[][] commands)
    {
        var text = new StringBuilder();
        foreach (var c in commands) text.Append(string.Join(' ', c.Select(Quote))).Append('\n');
        var (code, output, _) = await RunAsync("redis-cli", ["-h", "127.0.0.1", "-p", port.ToString()], 3, text.ToString());
        return code == 0 ? output : null;
    }

    private static string Quote(string s) => s.Any(ch => char.IsWhiteSpace(ch) || ch is '"' or '\'' or '\\') ? "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"" : s;

    public static string Seconds(double ms) => $"{ms / 1000:F1} s";
}
