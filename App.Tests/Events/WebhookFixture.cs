using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Tests.Infrastructure;
using SessionGate.Tests.Mfa;

namespace SessionGate.Tests.Events;

/// <summary>
/// The app with a real receiver on loopback (<c>Webhooks:AllowPrivateNetworks</c> on), a retry schedule of
/// milliseconds (so the tests need not wait a day) and a tight failed-login limit (for <c>user.locked</c>).
/// </summary>
public class WebhookFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public TestReceiver Receiver { get; private set; } = null!;

    protected override bool UsesTestClock => true;

    /// <summary>The app's clock: it keeps pace with real time, and a test moves it ahead rather than sleeping.</summary>
    public new TestClock Clock => base.Clock!;


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
        var created = await response.ReadAsync<WebhookCreated>(HttpStatusCode.Created);
        return (created.Id, created.Secret);
    }
}

/// <summary>A Standard Webhooks delivery, its signature checked with the StandardWebhooks library.</summary>
public sealed record Delivered(string Id, string Type, DateTimeOffset Timestamp, EventData Data)
{
    public Guid UserId => Data.UserId;
    public Guid? SessionId => Data.SessionId;
    public string? Reason => Data.Reason;

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
        var body = r.Json.As<WebhookBody>();
        return new Delivered(r.Headers["webhook-id"], body.Type, body.Timestamp, body.Data);
    }
}
