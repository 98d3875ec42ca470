using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Events;

/// <summary>
/// The app with a real receiver on loopback (<c>Webhooks:AllowPrivateNetworks</c> on), a retry schedule of
/// milliseconds (so the tests need not wait a day) and a tight failed-login limit (for <c>user.locked</c>).
/// </summary>
public class WebhookFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public TestReceiver Receiver { get; private set; } = null!;

    // Six attempts over about 8 s: long enough to outlast the tests' outages, short enough to see an endpoint disabled.
    public const string Schedule = "00:00:00.2, 00:00:00.5, 00:00:01, 00:00:02, 00:00:04";

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Webhooks:AllowPrivateNetworks"] = "true";
        settings["Webhooks:RetrySchedule"] = Schedule;
        settings["Webhooks:PollInterval"] = "00:00:00.2";
        settings["Webhooks:AttemptTimeout"] = "00:00:02";
        settings["LoginLimits:MaxFailuresPerAccountAndAddress"] = "3";
    }

    public override async Task InitializeAsync()
    {
        Receiver = await TestReceiver.StartAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Receiver.DisposeAsync();
    }

    /// <summary>A fresh tenant (events of other tests never reach its endpoints), managed by the platform admin.</summary>
    public async Task<(string Tenant, Login Admin)> TenantAsync() => (await NewTenantAsync(), await PlatformAdminAsync());

    public async Task<(Guid Id, string Secret)> RegisterAsync(string tenant, string path, string[]? events = null, string format = "standard-webhooks")
    {
        var response = await Api.SendAsync(HttpMethod.Post, $"/admin/webhooks?tenant={tenant}", await PlatformAdminAsync(),
            new { url = Receiver.Url(path), events, format });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"register: {(int)response.StatusCode} {text}");
        var json = JsonDocument.Parse(text).RootElement;
        return (json.GetProperty("id").GetGuid(), json.GetProperty("secret").GetString()!);
    }
}

/// <summary>A Standard Webhooks delivery, its signature checked with the StandardWebhooks library.</summary>
public sealed record Delivered(string Id, string Type, DateTimeOffset Timestamp, JsonElement Data)
{
    public Guid UserId => Data.GetProperty("user_id").GetGuid();
    public Guid? SessionId => Data.TryGetProperty("session_id", out var s) ? s.GetGuid() : null;
    public string? Reason => Data.TryGetProperty("reason", out var r) ? r.GetString() : null;

    public static Delivered Verify(TestReceiver.Received r, string secret)
    {
        // The header may carry several signatures (during a secret's rotation); the specification accepts any that
        // matches, but the library only looks at the first, so each is offered on its own.
        var signatures = r.Headers["webhook-signature"].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var verified = signatures.Count(signature =>
        {
            var headers = new HeaderDictionary();
            foreach (var (k, v) in r.Headers) headers[k] = v;
            headers["webhook-signature"] = signature;
            try
            {
                new StandardWebhooks.StandardWebhook(secret).Verify(r.Body, headers);
                return true;
            }
            catch (StandardWebhooks.Diagnostics.WebhookVerificationException)
            {
                return false;
            }
        });
        if (verified == 0) throw new StandardWebhooks.Diagnostics.WebhookVerificationException("No signature matches this secret.");
        Assert.Equal("application/json", r.ContentType?.Split(';')[0]);
        var json = r.Json;
        Assert.Equal(["data", "timestamp", "type"], json.EnumerateObject().Select(p => p.Name).Order());
        return new Delivered(r.Headers["webhook-id"], json.GetProperty("type").GetString()!, json.GetProperty("timestamp").GetDateTimeOffset(),
            json.GetProperty("data").Clone());
    }
}
