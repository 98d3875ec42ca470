using System.Collections.Concurrent;
using StackExchange.Redis;

namespace SessionGate.Caching;

/// <summary>
/// Cluster-wide invalidation over Redis pub/sub. A publish is lines of typed messages (<see cref="IInvalidation{TSelf}"/>,
/// written and read by <see cref="Invalidation"/>); each instance routes them to the handlers subscribed to the type.
/// The bus also proves its own subscription: it sends itself a probe every <see cref="RevocationOptions.ProbeInterval"/>,
/// trusts the L1 only once a probe came back, and drops the L1 when the subscription drops or probes stop coming back.
/// </summary>
public sealed partial class InvalidationBus : BackgroundService
{
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
        On<UserInvalidated>(m => cache.InvalidateUser(m.UserId));
        redis.ConnectionFailed += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Subscription) SubscriptionLost(e.FailureType.ToString());
        };
    }

    /// <summary>Messages received (probes excluded), for metrics.</summary>
    public long Received => Interlocked.Read(ref _received);
    private long _received;

    /// <summary>Routes every message of type <typeparamref name="T"/> to <paramref name="handler"/> (besides its other handlers).</summary>
    public void On<T>(Action<T> handler) where T : IInvalidation<T>
    {
        Action<string> read = argument =>
        {
            if (T.TryRead(argument, out var message)) handler(message);
        };
        _handlers.AddOrUpdate(T.Kind, [read], (_, existing) => [.. existing, read]);
    }

    /// <summary>Applies the message here at once, then tells every other instance.</summary>
    public Task PublishAsync<T>(T message) where T : IInvalidation<T> => PublishAsync([Invalidation.Line(message)]);

    /// <summary>Applies the lines (of <see cref="Invalidation.Line{T}"/>) here at once, then tells every other instance.</summary>
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
                await _redis.GetSubscriber().PublishAsync(_channel, Invalidation.Line(new Probe(_instance, n)));
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
            if (!Invalidation.TrySplit(payload.AsSpan(range), out var kind, out var arg)) continue;
            if (kind == Probe.Kind)
            {
                if (Probe.TryRead(arg.ToString(), out var probe)) OnProbe(probe);
                continue;
            }
            Interlocked.Increment(ref _received);
            _cache.Touch();
            if (!_handlers.TryGetValue(kind, out var handlers)) continue;
            var text = arg.ToString();
            foreach (var handler in handlers) handler(text);
        }
    }

    private void OnProbe(Probe probe)
    {
        if (probe.Instance != _instance) return;
        var n = probe.Number;
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
