using System.Collections.Concurrent;
using Serilog.Core;
using Serilog.Events;
using Xunit.Abstractions;

namespace SessionGate.Tests.Infrastructure;

/// <summary>Captures everything the app logs (message, properties, exceptions) and echoes it to the xunit output.</summary>
public sealed class LogSink : ILogEventSink
{
    private readonly ConcurrentQueue<string> _lines = new();

    public ITestOutputHelper? Output { get; set; }

    public void Emit(LogEvent logEvent)
    {
        var props = string.Join(" ", logEvent.Properties.Select(p => $"{p.Key}={p.Value}"));
        var line = $"[{logEvent.Level}] {logEvent.RenderMessage()} {props} {logEvent.Exception}";
        _lines.Enqueue(line);
        try
        {
            Output?.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
            // The test that owned the output has finished.
        }
    }

    public IReadOnlyList<string> Lines => _lines.ToArray();

    public string All => string.Join("\n", _lines);
}
