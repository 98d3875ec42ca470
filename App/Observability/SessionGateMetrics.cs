using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace SessionGate.Observability;

/// <summary>
/// SessionGate's instruments, on one <see cref="Meter"/> named after the product (Prometheus names: dots become
/// underscores, counters end in <c>_total</c>, seconds in <c>_seconds</c>). Tags carry low-cardinality facts only
/// (mode, result, reason, store, cache), never an id.
/// </summary>
public sealed class SessionGateMetrics
{
    public const string MeterName = "SessionGate";

    private readonly Counter<long> _authentications;
    private readonly Histogram<double> _authenticationDuration;
    private readonly Counter<long> _logins;
    private readonly Counter<long> _refreshes;
    private readonly Counter<long> _revocations;
    private readonly Histogram<double> _storeDuration;
    private readonly Counter<long> _webhookAttempts;
    private readonly Histogram<double> _webhookDuration;
    private readonly Histogram<double> _webhookLag;
    private readonly KeyValuePair<string, object?> _mode;

    public SessionGateMetrics(IMeterFactory meters, IOptions<MetricsOptions> options)
    {
        Meter = meters.Create(MeterName);
        _mode = new("mode", options.Value.Mode);
        _authentications = Meter.CreateCounter<long>("sessiongate.authentications", "{authentication}",
            "Credentials the authentication scheme judged, by mode, result (success, unauthenticated, revoked, unavailable, cross-site) and, for revoked, reason.");
        _authenticationDuration = Meter.CreateHistogram<double>("sessiongate.authentication.duration", "s", "Time to judge a credential.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5] });
        _logins = Meter.CreateCounter<long>("sessiongate.logins", "{login}",
            "Logins by outcome: success, invalid-credentials, locked, banned, limit-reached, invalid, unavailable.");
        _refreshes = Meter.CreateCounter<long>("sessiongate.refreshes", "{refresh}", "Refresh-token rotations by result: rotated, invalid, reused.");
        _revocations = Meter.CreateCounter<long>("sessiongate.revocations", "{session}", "Sessions ended, by reason.");
        _storeDuration = Meter.CreateHistogram<double>("sessiongate.store.duration", "s", "Redis and PostgreSQL calls on the authentication hot path.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1] });
        _webhookAttempts = Meter.CreateCounter<long>("sessiongate.webhooks.deliveries", "{attempt}",
            "Webhook delivery attempts by format and result: sent (2xx), retried (failed, another attempt is scheduled), failed (the last attempt failed).");
        _webhookDuration = Meter.CreateHistogram<double>("sessiongate.webhooks.duration", "s", "Time of one delivery attempt (connect, send, answer).",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15] });
        _webhookLag = Meter.CreateHistogram<double>("sessiongate.webhooks.latency", "s", "From the event (its commit) to the receiver's success.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 300, 3600] });
    }

    public Meter Meter { get; }

    /// <param name="result">success, unauthenticated, revoked, unavailable or cross-site.</param>
    /// <param name="reason">For revoked: why.</param>
    /// <param name="startTimestamp">When the judging began (<see cref="Stopwatch.GetTimestamp"/>).</param>
    public void Authenticated(string result, string? reason, long startTimestamp)
    {
        var tags = new TagList { _mode, { "result", result } };
        _authenticationDuration.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds, tags);
        if (reason is not null) tags.Add("reason", reason);
        _authentications.Add(1, tags);
    }

    public void Login(string outcome) => _logins.Add(1, new KeyValuePair<string, object?>("result", outcome));

    public void Refresh(string result) => _refreshes.Add(1, new KeyValuePair<string, object?>("result", result));

    public void Revoked(string reason, int sessions)
    {
        if (sessions > 0) _revocations.Add(sessions, new KeyValuePair<string, object?>("reason", reason));
    }

    /// <summary>One webhook delivery attempt; <paramref name="latency"/> (event to receiver) only for a success.</summary>
    public void WebhookAttempt(string format, string result, TimeSpan duration, TimeSpan? latency)
    {
        var tags = new TagList { { "format", format }, { "result", result } };
        _webhookAttempts.Add(1, tags);
        _webhookDuration.Record(duration.TotalSeconds, tags);
        if (latency is { } lag) _webhookLag.Record(Math.Max(0, lag.TotalSeconds), new KeyValuePair<string, object?>("format", format));
    }

    /// <summary>Times a store call on the hot path: <c>using var _ = metrics.Time("redis", "get_session");</c></summary>
    public StoreTimer Time(string store, string operation) => new(this, store, operation, Stopwatch.GetTimestamp());

    public readonly struct StoreTimer(SessionGateMetrics metrics, string store, string operation, long start) : IDisposable
    {
        public void Dispose() =>
            metrics._storeDuration.Record(Stopwatch.GetElapsedTime(start).TotalSeconds, new TagList { { "store", store }, { "operation", operation } });
    }
}

/// <summary>Tags every SessionGate metric carries; the features that know them fill them in (the mode: Sessions).</summary>
public sealed class MetricsOptions
{
    public string Mode { get; set; } = "";
}
