using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SessionGate.Sessions;
using StackExchange.Redis;

namespace SessionGate.Revocation;

/// <summary>
/// Cluster-wide invalidation over Redis pub/sub. A message is lines of <c>&lt;kind&gt;:&lt;argument&gt;</c>; each
/// instance routes them to the L1 maps that registered for the kind. The bus also proves its own subscription: it
/// sends itself a probe every <see cref="RevocationOptions.ProbeInterval"/>, trusts the L1 only once a probe came
/// back, and drops the L1 when the subscription drops or probes stop coming back.
/// </summary>
public sealed partial class InvalidationBus : BackgroundService
{
    public const char ProbeKind = 'p';

    private readonly IConnectionMultiplexer _redis;
    private readonly LocalCache _cache;
    private readonly RevocationOptions _options;
    private readonly ILogger<InvalidationBus> _logger;
    private readonly RedisChannel _channel;
    private readonly string _instance = Guid.NewGuid().ToString("N")[..12];
    private readonly ConcurrentDictionary<char, Action<string>[]> _handlers = new();
    private long _probeSent;
    private long _probeReceived;
    private int _lostLogged;

    public InvalidationBus(IConnectionMultiplexer redis, LocalCache cache, IOptions<RedisOptions> redisOptions,
        IOptions<RevocationOptions> options, ILogger<InvalidationBus> logger)
    {
        _redis = redis;
        _cache = cache;
        _options = options.Value;
        _logger = logger;
        _channel = RedisChannel.Literal(redisOptions.Value.KeyPrefix + "invalidate");
        // Every entry of a user (sessions, revocation state) goes stale on a user-level change.
        On(RevocationPipeline.UserKind, arg =>
        {
            if (Guid.TryParse(arg, out var user)) cache.InvalidateUser(user);
        });
        redis.ConnectionFailed += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Subscription) SubscriptionLost(e.FailureType.ToString());
        };
    }

    /// <summary>Messages received (probes excluded), for metrics.</summary>
    public long Received => Interlocked.Read(ref _received);
    private long _received;

    /// <summary>Routes every line of <paramref name="kind"/> to <paramref name="handler"/> (besides the kind's other handlers).</summary>
    public void On(char kind, Action<string> handler) => _handlers.AddOrUpdate(kind, [handler], (_, existing) => [.. existing, handler]);

    /// <summary>Applies the lines here at once, then tells every other instance.</summary>
    public Task PublishAsync(IReadOnlyCollection<string> lines)
    {
        if (lines.Count == 0) return Task.CompletedTask;
        var payload = string.Join('\n', lines);
        Dispatch(payload);
        return _redis.GetSubscriber().PublishAsync(_channel, payload);
    }

    /// <summary>Applies the lines on this instance only (what every instance learns for itself, from PostgreSQL).</summary>
    public void Deliver(IReadOnlyCollection<string> lines)
    {
        if (lines.Count > 0) Dispatch(string.Join('\n', lines));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await SubscribeAsync(stoppingToken);
        using var timer = new PeriodicTimer(_options.ProbeInterval);
        do
        {
            _cache.Sweep();
            CheckProbe();
            try
            {
                var n = Interlocked.Increment(ref _probeSent);
                await _redis.GetSubscriber().PublishAsync(_channel, $"{ProbeKind}:{_instance}:{n}");
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException or ObjectDisposedException)
            {
                SubscriptionLost(e.GetType().Name);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task SubscribeAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var queue = await _redis.GetSubscriber().SubscribeAsync(_channel);
                queue.OnMessage(m => Dispatch((string?)m.Message));
                return;
            }
            catch (Exception e) when (e is RedisException or RedisTimeoutException)
            {
                SubscriptionLost(e.GetType().Name);
                await Task.Delay(_options.ProbeInterval, ct);
            }
        }
    }

    // Probes stopped coming back (a silent loss): distrust until one does.
    private void CheckProbe()
    {
        var sent = Interlocked.Read(ref _probeSent);
        if (_cache.Trusted && sent - Interlocked.Read(ref _probeReceived) >= 3) SubscriptionLost("probe timeout");
    }

    private void SubscriptionLost(string why)
    {
        var wasTrusted = _cache.Trusted;
        _cache.Distrust();
        if (wasTrusted && Interlocked.Exchange(ref _lostLogged, 1) == 0) LogSubscriptionLost(_logger, why);
    }

    private void Dispatch(string? payload)
    {
        if (string.IsNullOrEmpty(payload)) return;
        foreach (var range in payload.AsSpan().Split('\n'))
        {
            var line = payload.AsSpan(range);
            if (line.Length < 2 || line[1] != ':') continue;
            var arg = line[2..];
            if (line[0] == ProbeKind)
            {
                OnProbe(arg);
                continue;
            }
            Interlocked.Increment(ref _received);
            _cache.Touch();
            if (!_handlers.TryGetValue(line[0], out var handlers)) continue;
            var text = arg.ToString();
            foreach (var handler in handlers) handler(text);
        }
    }

    private void OnProbe(ReadOnlySpan<char> arg)
    {
        var sep = arg.IndexOf(':');
        if (sep < 0 || !arg[..sep].SequenceEqual(_instance) || !long.TryParse(arg[(sep + 1)..], out var n)) return;
        if (n > Interlocked.Read(ref _probeReceived)) Interlocked.Exchange(ref _probeReceived, n);
        if (_cache.Trusted) return;
        _cache.Trust();
        if (Interlocked.Exchange(ref _lostLogged, 0) == 1) LogSubscriptionRestored(_logger);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Invalidation subscription lost ({Reason}); the L1 is off until it is proven again")]
    private static partial void LogSubscriptionLost(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Invalidation subscription proven again; the L1 is back on")]
    private static partial void LogSubscriptionRestored(ILogger logger);
}
