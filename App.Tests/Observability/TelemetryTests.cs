using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using SessionGate.Infrastructure;
using SessionGate.Observability;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Observability;

public sealed class TracedFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public List<Activity> Spans { get; } = [];

    protected override void Configure(IDictionary<string, string?> s) => s["Tracing:Enabled"] = "true";

    // WebApplicationFactory's settings reach the app after it registered its services, so Tracing:Enabled cannot switch
    // the tracer provider on there; the fixture adds it with the app's own tracing set-up (the sampler still reads
    // Tracing:Enabled at run time).
    // Every scrape reads the counters afresh (the shipped exporter caches a scrape for a second), so a test need not wait.
    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddOpenTelemetry().WithTracing(t => t.AddSessionGateTracing().AddInMemoryExporter(Spans));
        services.Configure<OpenTelemetry.Exporter.PrometheusAspNetCoreOptions>(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
    }
}

/// <summary>
/// OpenTelemetry's MeterProvider listens to every Meter named "SessionGate" in the process, so with several hosts alive
/// a scrape mixes their counters, and a series drops out when another host stops. These classes therefore run alone,
/// after the parallel ones, each with the only host alive.
/// </summary>
[CollectionDefinition(nameof(TelemetryCollection), DisableParallelization = true)]
public sealed class TelemetryCollection;

[Collection(nameof(TelemetryCollection))]
public sealed class TelemetryTests_Opaque(TracedFixture<Opaque> fx) : TelemetryTests<Opaque>(fx), IClassFixture<TracedFixture<Opaque>>;
[Collection(nameof(TelemetryCollection))]
public sealed class TelemetryTests_Blacklist(TracedFixture<Blacklist> fx) : TelemetryTests<Blacklist>(fx), IClassFixture<TracedFixture<Blacklist>>;
[Collection(nameof(TelemetryCollection))]
public sealed class TelemetryTests_SessionCache(TracedFixture<SessionCache> fx) : TelemetryTests<SessionCache>(fx), IClassFixture<TracedFixture<SessionCache>>;

/// <summary>What an operator reads: Prometheus series for every credential judged, logins, revocations; spans without credentials.</summary>
public abstract class TelemetryTests<TMode>(TracedFixture<TMode> fx) where TMode : IMode
{
    private static readonly Regex Sample = new(@"^(?<name>[a-z_]+)(\{(?<labels>[^}]*)\})? (?<value>[-0-9.eE+]+)", RegexOptions.Multiline);

    private async Task<List<(string Name, Dictionary<string, string> Labels, double Value)>> ScrapeAsync()
    {
        var response = await fx.Api.Management.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        return Sample.Matches(text).Select(m => (m.Groups["name"].Value,
            m.Groups["labels"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2))
                .ToDictionary(p => p[0], p => p[1].Trim('"')),
            double.Parse(m.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture))).ToList();
    }

    private static double Sum(IEnumerable<(string Name, Dictionary<string, string> Labels, double Value)> samples, string name, params (string Key, string Value)[] labels) =>
        samples.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Key) == l.Value)).Sum(s => s.Value);

    [Fact]
    public async Task Metrics_count_every_credential_judged_with_its_result_and_reason_and_the_logins_and_revocations()
    {
        var mode = fx.Mode.ToString();
        var before = await ScrapeAsync();
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        await fx.Api.GetAsync("/auth/me", login);
        await fx.Api.GetAsync("/api/profile", login);
        Assert.Equal(HttpStatusCode.NoContent, (await fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", login)).StatusCode);
        await fx.Api.GetAsync("/auth/me", login);
        await fx.Api.SendAsync(HttpMethod.Get, "/auth/me", configure: r => r.Headers.TryAddWithoutValidation("Authorization", "Bearer not-a-credential"));
        await fx.Api.LoginRawAsync(new { tenant = "acme", username = "nobody-here", password = "wrong-password-123" });
        await fx.Api.GetAsync("/health/live"); // no credential: not judged
        var after = await ScrapeAsync();

        void AtLeast(double expected, string name, params (string Key, string Value)[] labels)
        {
            var delta = Sum(after, name, labels) - Sum(before, name, labels);
            Assert.True(delta >= expected, $"{name}{{{string.Join(',', labels.Select(l => $"{l.Key}={l.Value}"))}}} grew by {delta}, expected at least {expected}; "
                + string.Join("; ", after.Where(s => s.Name == name).Select(s => $"{string.Join(',', s.Labels.Select(l => $"{l.Key}={l.Value}"))} {s.Value}")));
        }
        AtLeast(3, "sessiongate_authentications_total", ("mode", mode), ("result", "success"));
        AtLeast(1, "sessiongate_authentications_total", ("mode", mode), ("result", "revoked"), ("reason", "logged-out"));
        AtLeast(1, "sessiongate_authentications_total", ("mode", mode), ("result", "unauthenticated"));
        AtLeast(1, "sessiongate_logins_total", ("result", "success"));
        AtLeast(1, "sessiongate_logins_total", ("result", "invalid-credentials"));
        AtLeast(1, "sessiongate_revocations_total", ("reason", "logged-out"));
        Assert.True(Sum(after, "sessiongate_authentication_duration_seconds_count", ("mode", mode)) > 0);
        Assert.True(Sum(after, "sessiongate_cache_lookups_total") > 0);
        Assert.Contains(after, s => s.Name == "sessiongate_outbox_backlog");
        Assert.Contains(after, s => s.Name == "sessiongate_sessions_online");
        Assert.Contains(after, s => s.Name == "sessiongate_signing_key_age_seconds");
        Assert.Contains(after, s => s.Name == "sessiongate_invalidations_received_total");
        Assert.Contains(after, s => s.Name == "http_server_request_duration_seconds_count");
        // Only low-cardinality labels: no user, session or token ever becomes a label.
        Assert.All(after.Where(s => s.Name.StartsWith("sessiongate_", StringComparison.Ordinal)),
            s => Assert.All(s.Labels.Keys, k => Assert.Contains(k, new[] { "mode", "result", "reason", "store", "operation", "cache", "format", "le", "otel_scope_name", "otel_scope_version", "job", "instance" })));
    }

    [Fact]
    public async Task An_authenticated_request_reads_each_L1_cache_at_most_once()
    {
        var login = await fx.Api.LoginAsync(await fx.NewUserAsync());
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/api/profile", login)).StatusCode); // fills the L1
        const int requests = 20;
        var before = await ScrapeAsync();
        for (var i = 0; i < requests; i++) Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/api/profile", login)).StatusCode);
        var after = await ScrapeAsync();

        var caches = after.Where(s => s.Name == "sessiongate_cache_lookups_total").Select(s => s.Labels["cache"]).Distinct().ToList();
        var lookups = caches.ToDictionary(c => c, c => Sum(after, "sessiongate_cache_lookups_total", ("cache", c)) - Sum(before, "sessiongate_cache_lookups_total", ("cache", c)));
        // Each cache the mode keeps (the session, its role set, a verified token, the user's revocations) is read once
        // per request: a second read of the same entry cost a lookup and counted it twice.
        Assert.All(lookups, l => Assert.True(l.Value <= requests, $"{l.Key}: {l.Value} lookups for {requests} requests"));
        Assert.True(lookups.Values.Sum() >= requests, $"no L1 lookup counted: {string.Join(", ", lookups.Select(l => $"{l.Key} {l.Value}"))}");
    }

    [Fact]
    public async Task Spans_cover_login_authentication_and_revocation_and_never_carry_a_credential()
    {
        var user = await fx.NewUserAsync();
        var login = await fx.Api.LoginAsync(user);
        await fx.Api.GetAsync("/auth/me", login);
        await fx.Api.SendAsync(HttpMethod.Post, "/auth/logout", login);
        // A span is exported when it ends, which for a request's server span is after its answer: wait for the last one.
        var spans = await Eventually.ThatAsync(() =>
        {
            lock (fx.Spans) return Task.FromResult<Activity[]>([.. fx.Spans]);
        }, s => s.Any(x => x.OperationName == "session.change") && Authenticated(s) is [var first, ..] && s.Any(x => x.Kind == ActivityKind.Server && x.TraceId == first.TraceId),
            TimeSpan.FromSeconds(10), "the spans of the login, the request and the logout");
        List<Activity> Authenticated(Activity[] all) => all.Where(s => s.OperationName == "authenticate" && s.GetTagItem("enduser.id") as string == user.Id.ToString()).ToList();
        Assert.Contains(spans, s => s.OperationName == "login");
        var authenticated = Authenticated(spans);
        Assert.NotEmpty(authenticated);
        Assert.Contains(spans, s => s.OperationName == "session.change" && s.GetTagItem("sessiongate.sessions_ended") is 1);
        // A server span per request, with the authentication span inside its trace.
        Assert.Contains(spans, s => s.Kind == ActivityKind.Server && s.TraceId == authenticated[0].TraceId);
        foreach (var span in spans)
        foreach (var (_, value) in span.TagObjects)
        {
            var text = value?.ToString() ?? "";
            Assert.DoesNotContain(login.Bearer, text, StringComparison.Ordinal);
            Assert.DoesNotContain(user.Password, text, StringComparison.Ordinal);
            if (login.Refresh is not null) Assert.DoesNotContain(login.Refresh, text, StringComparison.Ordinal);
        }
    }
}
