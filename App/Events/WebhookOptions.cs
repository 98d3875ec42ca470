namespace SessionGate.Events;

/// <summary>Outgoing session events (<c>Webhooks</c> section).</summary>
public sealed class WebhookOptions
{
    /// <summary>
    /// Allow receivers on private, loopback and link-local addresses, and over plain <c>http</c>. Off, a receiver must
    /// be <c>https</c> on a public address, checked when it is registered and again, on the resolved address, at every
    /// connection (so a name that later resolves inside the network is refused too).
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>
    /// The waits after each failed attempt, comma-separated TimeSpans (one string, so an override replaces the whole
    /// list); the attempt after the last wait is the last. The default (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h:
    /// about 27.6 hours, each wait up to 10 % longer at random) keeps retrying for more than a day.
    /// </summary>
    public string RetrySchedule { get; set; } = "00:00:05, 00:05:00, 00:30:00, 02:00:00, 05:00:00, 10:00:00, 10:00:00";

    /// <summary>The parsed <see cref="RetrySchedule"/>; null when it does not parse.</summary>
    public TimeSpan[]? Schedule
    {
        get
        {
            var waits = new List<TimeSpan>();
            foreach (var part in RetrySchedule.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!TimeSpan.TryParse(part, System.Globalization.CultureInfo.InvariantCulture, out var wait) || wait <= TimeSpan.Zero) return null;
                waits.Add(wait);
            }
            return waits.Count is > 0 and <= 20 ? [.. waits] : null;
        }
    }

    /// <summary>How long one attempt may take (connect, send, answer).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How often every instance looks for due deliveries when PostgreSQL's notification does not wake it first.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Deliveries one instance sends at once.</summary>
    public int MaxConcurrency { get; set; } = 16;

    /// <summary>How long events and their delivery log are kept.</summary>
    public TimeSpan RetainFor { get; set; } = TimeSpan.FromDays(7);

    /// <summary>After a secret rotation, deliveries are signed with the old secret too for this long.</summary>
    public TimeSpan SecretRotationGrace { get; set; } = TimeSpan.FromHours(24);

    /// <summary>Endpoints one tenant may register.</summary>
    public int MaxEndpointsPerTenant { get; set; } = 20;

    /// <summary>How long the whole schedule runs at least (without the random extra).</summary>
    public TimeSpan ScheduleSpan => (Schedule ?? []).Aggregate(TimeSpan.Zero, (a, b) => a + b);
}
