using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Events;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.Admin;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateWebhookRequest(
    [property: Description("The receiver: https, on a public address (unless Webhooks:AllowPrivateNetworks).")] string? Url,
    [property: Description("Event types to send: session.created, session.ended, user.banned, user.unbanned, user.roles_changed, user.locked, user.deleted. Absent or empty: all of them.")] string[]? Events,
    [property: Description("standard-webhooks (default: signed JSON) or caep (Security Event Tokens, CAEP session-revoked, for session.ended).")] string? Format);

/// <summary>A new endpoint; <see cref="Secret"/> is shown this once.</summary>
public sealed record WebhookCreated(Guid Id, [property: Description("whsec_ secret: signs standard-webhooks deliveries; the bearer token of caep pushes. Shown once.")] string Secret,
    string Url, string[] Events, string Format, DateTimeOffset CreatedAt);

public sealed record WebhookView(Guid Id, string Url, string[] Events,
    [property: Description("What is actually sent: the events asked for that the format carries.")] string[] EventsDelivered,
    string Format, bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset? DisabledAt, string? DisabledReason,
    [property: Description("Since when every attempt has failed (null while it succeeds).")] DateTimeOffset? FailingSince);

public sealed record WebhookSecretView(Guid Id, string Secret,
    [property: Description("Until then deliveries are signed with the previous secret too.")] DateTimeOffset? PreviousSecretValidUntil);

public sealed record DeliveryView(long Id, Guid EventId, string Type,
    [property: Description("pending (waiting for its first or next attempt), succeeded, or failed (every attempt of the schedule failed).")] string Status,
    int Attempts, string? LastError, int? LastStatusCode,
    [property: Description("At most the first 256 characters of the receiver's last answer.")] string? ResponseExcerpt,
    DateTimeOffset CreatedAt, DateTimeOffset? LastAttemptAt, DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt);

/// <summary>
/// /admin/webhooks: a tenant's receivers of session events (tenant:write, own tenant; a platform admin may name
/// another with ?tenant=). Another tenant's endpoint answers 404.
/// </summary>
internal static class WebhooksApi
{
    private const string WebhookId = "The webhook endpoint's id (from GET /admin/webhooks).";

    // POST   /admin/webhooks                                          register (the secret is shown once)
    // GET    /admin/webhooks                                          list
    // GET    /admin/webhooks/{id}                                     one
    // DELETE /admin/webhooks/{id}                                     delete (with its delivery log)
    // POST   /admin/webhooks/{id}/secret                              rotate the secret
    // POST   /admin/webhooks/{id}/enable                              re-enable one the dispatcher disabled
    // GET    /admin/webhooks/{id}/deliveries?page=&size=               the delivery log, newest first
    // POST   /admin/webhooks/{id}/deliveries/{delivery_id}/retry      send one delivery again
    public static void MapAdminWebhooks(this RouteGroupBuilder admin)
    {
        var hooks = admin.MapGroup("/webhooks").WithTags("Admin: webhooks").RequireAuthorization(Permissions.TenantWrite);
        hooks.MapPost("/", Create).WithName("CreateWebhook").WithSummary("Register a receiver of session events; the secret is shown once.")
            .WithDescription("Events are written in the same transaction as the change they report and delivered at least once, in order per user, retried with backoff for more than a day (Webhooks:RetrySchedule). An endpoint that fails through a whole schedule is disabled.")
            .ProducesProblems(400, Problems.Validation);
        hooks.MapGet("/", List).WithName("ListWebhooks").WithSummary("The tenant's webhook endpoints.");
        hooks.MapGet("/{id:guid}", Get).WithName("GetWebhook").WithSummary("One webhook endpoint.");
        hooks.MapDelete("/{id:guid}", Delete).WithName("DeleteWebhook").WithSummary("Delete an endpoint and its delivery log; nothing more is sent to it.");
        hooks.MapPost("/{id:guid}/secret", RotateSecret).WithName("RotateWebhookSecret")
            .WithSummary("A new secret, shown once; deliveries are signed with the old one too for Webhooks:SecretRotationGrace.");
        hooks.MapPost("/{id:guid}/enable", Enable).WithName("EnableWebhook")
            .WithSummary("Re-enable an endpoint that was disabled for failing; what waited for it is sent.");
        hooks.MapGet("/{id:guid}/deliveries", Deliveries).WithName("ListWebhookDeliveries")
            .WithSummary("The endpoint's deliveries, newest first: event id, type, status, attempts, last error.")
            .ProducesProblems(400, Problems.Validation);
        hooks.MapPost("/{id:guid}/deliveries/{delivery_id:long}/retry", Retry).WithName("RetryWebhookDelivery")
            .WithSummary("Send one delivery again now, with a fresh retry schedule (202: queued).");
    }

    private static IQueryable<WebhookEndpoint> Endpoints(AdminServices services) =>
        services.Db.Set<WebhookEndpoint>().Where(w => w.TenantId == services.Admin.TenantId);

    private static string[] Delivered(WebhookEndpoint w) =>
        w.Format == WebhookSender.CaepFormat ? [.. w.Events.Intersect(EventTypes.Caep)] : [.. w.Events];

    private static WebhookView View(WebhookEndpoint w) =>
        new(w.Id, w.Url, [.. w.Events], Delivered(w), w.Format, w.DisabledAt is null, w.CreatedAt, w.DisabledAt, w.DisabledReason, w.FailingSince);

    private static async Task<Results<Created<WebhookCreated>, ProblemHttpResult>> Create(
        CreateWebhookRequest? body, [AsParameters] AdminServices services, WebhookSecrets secrets, IOptions<WebhookOptions> options, IOptions<JwtOptions> jwt,
        CancellationToken ct)
    {
        if (body is null) return Problems.ValidationFailed("A JSON body is required.");
        var format = body.Format?.Trim().ToLowerInvariant() ?? WebhookSender.StandardFormat;
        if (format is not (WebhookSender.StandardFormat or WebhookSender.CaepFormat))
            return Problems.ValidationFailed("format must be standard-webhooks or caep.", "format");
        if (body.Events is { Length: > 20 }) return Problems.ValidationFailed("Too many events.", "events");
        var events = body.Events is { Length: > 0 } asked ? asked.Select(e => e?.Trim() ?? "").Distinct().ToList() : [.. EventTypes.All];
        if (events.FirstOrDefault(e => !EventTypes.All.Contains(e)) is { } unknown)
            return Problems.ValidationFailed($"Unknown event '{LogText.Safe(unknown, 40)}'; known: {string.Join(", ", EventTypes.All)}.", "events");
        if (format == WebhookSender.CaepFormat)
        {
            if (body.Events is null or { Length: 0 }) events = [.. EventTypes.Caep];
            if (!events.Intersect(EventTypes.Caep).Any())
                return Problems.ValidationFailed("caep carries session.ended only (CAEP session-revoked); use standard-webhooks for the others.", "events");
            if (jwt.Value.Algorithm == "HS256")
                return Problems.ValidationFailed("caep needs an asymmetric signing key (Jwt:Algorithm ES256 or RS256): receivers verify it from the JWKS.", "format");
        }
        if (await ReceiverAddress.RefuseAsync(body.Url, options.Value.AllowPrivateNetworks, ct) is { } refused) return Problems.ValidationFailed(refused, "url");
        var (tenantId, db) = (services.Admin.TenantId, services.Db);
        if (await db.Set<WebhookEndpoint>().CountAsync(w => w.TenantId == tenantId, ct) >= options.Value.MaxEndpointsPerTenant)
            return Problems.ValidationFailed($"A tenant may have at most {options.Value.MaxEndpointsPerTenant} webhook endpoints (Webhooks:MaxEndpointsPerTenant).");

        var secret = WebhookSecrets.New();
        var endpoint = new WebhookEndpoint
        {
            TenantId = tenantId,
            Url = body.Url!.Trim(),
            Events = events,
            Format = format,
            ProtectedSecret = secrets.Protect(secret),
            CreatedAt = services.Time.GetUtcNow(),
        };
        db.Add(endpoint);
        services.Audit.Record(WebhookAuditTypes.Created, detail: new { webhook_id = endpoint.Id, url = endpoint.Url, events, format });
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/admin/webhooks/{endpoint.Id}",
            new WebhookCreated(endpoint.Id, secret, endpoint.Url, [.. events], format, endpoint.CreatedAt));
    }

    private static async Task<Ok<List<WebhookView>>> List([AsParameters] AdminServices services, CancellationToken ct)
    {
        var endpoints = await Endpoints(services).AsNoTracking().OrderBy(w => w.CreatedAt).ToListAsync(ct);
        return TypedResults.Ok(endpoints.Select(View).ToList());
    }

    private static async Task<Results<Ok<WebhookView>, ProblemHttpResult>> Get([Description(WebhookId)] Guid id, [AsParameters] AdminServices services, CancellationToken ct) =>
        await Endpoints(services).AsNoTracking().FirstOrDefaultAsync(w => w.Id == id, ct) is { } w ? TypedResults.Ok(View(w)) : Problems.NotFoundResult();

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        [Description(WebhookId)] Guid id, [AsParameters] AdminServices services, CancellationToken ct)
    {
        if (await Endpoints(services).Where(w => w.Id == id).ExecuteDeleteAsync(ct) == 0) return Problems.NotFoundResult();
        await services.Audit.RecordAsync(WebhookAuditTypes.Deleted, null, new { webhook_id = id }, ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<WebhookSecretView>, ProblemHttpResult>> RotateSecret(
        [Description(WebhookId)] Guid id, [AsParameters] AdminServices services, WebhookSecrets secrets, IOptions<WebhookOptions> options, CancellationToken ct)
    {
        var endpoint = await Endpoints(services).FirstOrDefaultAsync(w => w.Id == id, ct);
        if (endpoint is null) return Problems.NotFoundResult();
        var secret = WebhookSecrets.New();
        var grace = options.Value.SecretRotationGrace;
        endpoint.PreviousProtectedSecret = grace > TimeSpan.Zero ? endpoint.ProtectedSecret : null;
        endpoint.PreviousSecretUntil = grace > TimeSpan.Zero ? services.Time.GetUtcNow() + grace : null;
        endpoint.ProtectedSecret = secrets.Protect(secret);
        services.Audit.Record(WebhookAuditTypes.SecretRotated, detail: new { webhook_id = id });
        await services.Db.SaveChangesAsync(ct);
        return TypedResults.Ok(new WebhookSecretView(id, secret, endpoint.PreviousSecretUntil));
    }

    private static async Task<Results<Ok<WebhookView>, ProblemHttpResult>> Enable(
        [Description(WebhookId)] Guid id, [AsParameters] AdminServices services, WebhookDispatcher dispatcher, CancellationToken ct)
    {
        var endpoint = await Endpoints(services).FirstOrDefaultAsync(w => w.Id == id, ct);
        if (endpoint is null) return Problems.NotFoundResult();
        if (endpoint.DisabledAt is not null)
        {
            var (now, db) = (services.Time.GetUtcNow(), services.Db);
            (endpoint.DisabledAt, endpoint.DisabledReason, endpoint.FailingSince) = (null, null, null);
            await using var tx = await db.Database.BeginTransactionAsync(ct);
            await db.Set<WebhookDelivery>().Where(d => d.EndpointId == id && d.Status == DeliveryStatus.Pending && d.NextAttemptAt > now)
                .ExecuteUpdateAsync(u => u.SetProperty(d => d.NextAttemptAt, now), ct);
            services.Audit.Record(WebhookAuditTypes.Enabled, detail: new { webhook_id = id });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
            dispatcher.Wake();
        }
        return TypedResults.Ok(View(endpoint));
    }

    private static async Task<Results<Ok<Paged<DeliveryView>>, ProblemHttpResult>> Deliveries(
        [Description(WebhookId)] Guid id, [AsParameters] AdminServices services, [AsParameters] PageQuery paging, CancellationToken ct)
    {
        if (paging.Validate(out var p, out var s) is { } invalid) return invalid;
        if (!await Endpoints(services).AnyAsync(w => w.Id == id, ct)) return Problems.NotFoundResult();
        var query = services.Db.Set<WebhookDelivery>().AsNoTracking().Where(d => d.EndpointId == id);
        var total = await query.LongCountAsync(ct);
        var items = await query.OrderByDescending(d => d.Id).Skip((p - 1) * s).Take(s)
            .Select(d => new DeliveryView(d.Id, d.EventId, d.Type, d.Status, d.Attempts, d.LastError, d.LastStatusCode, d.ResponseExcerpt, d.CreatedAt,
                d.LastAttemptAt, d.Status == DeliveryStatus.Pending ? d.NextAttemptAt : null, d.DeliveredAt))
            .ToListAsync(ct);
        return TypedResults.Ok(new Paged<DeliveryView>(items, p, s, total));
    }

    private static async Task<Results<Accepted<DeliveryView>, ProblemHttpResult>> Retry(
        [Description(WebhookId)] Guid id, [FromRoute(Name = "delivery_id"), Description("The delivery's id (from the endpoint's deliveries).")] long deliveryId, [AsParameters] AdminServices services, WebhookDispatcher dispatcher, CancellationToken ct)
    {
        if (!await Endpoints(services).AnyAsync(w => w.Id == id, ct)) return Problems.NotFoundResult();
        var (now, db) = (services.Time.GetUtcNow(), services.Db);
        // A fresh schedule; one that is being sent right now (leased) keeps its attempt.
        var requeued = await db.Set<WebhookDelivery>().Where(d => d.Id == deliveryId && d.EndpointId == id && (d.LeaseUntil == null || d.LeaseUntil < now))
            .ExecuteUpdateAsync(u => u.SetProperty(d => d.Status, DeliveryStatus.Pending).SetProperty(d => d.Attempts, 0)
                .SetProperty(d => d.FirstAttemptAt, (DateTimeOffset?)null).SetProperty(d => d.NextAttemptAt, now).SetProperty(d => d.LeaseUntil, (DateTimeOffset?)null), ct);
        var d = await db.Set<WebhookDelivery>().AsNoTracking().FirstOrDefaultAsync(d => d.Id == deliveryId && d.EndpointId == id, ct);
        if (d is null) return Problems.NotFoundResult();
        if (requeued > 0)
        {
            await services.Audit.RecordAsync(WebhookAuditTypes.DeliveryRetried, null, new { webhook_id = id, delivery_id = deliveryId }, ct);
            dispatcher.Wake();
        }
        return TypedResults.Accepted($"/admin/webhooks/{id}/deliveries",
            new DeliveryView(d.Id, d.EventId, d.Type, d.Status, d.Attempts, d.LastError, d.LastStatusCode, d.ResponseExcerpt, d.CreatedAt, d.LastAttemptAt,
                d.Status == DeliveryStatus.Pending ? d.NextAttemptAt : null, d.DeliveredAt));
    }
}
