using System.Text.Json.Serialization;

namespace SessionGate.Tests.Events;

// API.md's "Session events out" shapes, as the tests read them (strictly: see Contract).

/// <summary>POST /admin/webhooks: the new endpoint, its secret shown this once.</summary>
public sealed record WebhookCreated(Guid Id, string Secret, string Url, string[] Events, string Format, DateTimeOffset CreatedAt);

/// <summary>GET /admin/webhooks items, GET /admin/webhooks/{id} and POST .../enable.</summary>
public sealed record Webhook(Guid Id, string Url, string[] Events, string[] EventsDelivered, string Format, bool Enabled, DateTimeOffset CreatedAt,
    DateTimeOffset? DisabledAt, string? DisabledReason, DateTimeOffset? FailingSince);

/// <summary>POST /admin/webhooks/{id}/secret: the new secret, shown once; the old one still signs until then.</summary>
public sealed record WebhookSecret(Guid Id, string Secret, DateTimeOffset? PreviousSecretValidUntil);

/// <summary>An item of GET /admin/webhooks/{id}/deliveries.</summary>
public sealed record Delivery(long Id, Guid EventId, string Type, string Status, int Attempts, string? LastError, int? LastStatusCode,
    string? ResponseExcerpt, DateTimeOffset CreatedAt, DateTimeOffset? LastAttemptAt, DateTimeOffset? NextAttemptAt, DateTimeOffset? DeliveredAt);

/// <summary>A Standard Webhooks body: <c>{"type","timestamp","data"}</c>.</summary>
public sealed record WebhookBody(string Type, DateTimeOffset Timestamp, EventData Data);

/// <summary>
/// An event's data: always the tenant and the user; for session events the public session id (and the reason an
/// ended one ended); what the type adds (device_type, until, scope). Never a credential.
/// </summary>
public sealed record EventData(string Tenant, Guid UserId, Guid? SessionId = null, string? Reason = null, string? DeviceType = null,
    DateTimeOffset? Until = null, string? Scope = null);

/// <summary>The audit detail of <c>webhook.disabled</c>.</summary>
public sealed record WebhookDisabledDetail(Guid WebhookId, long DeliveryId, string LastError);

/// <summary>A CAEP session-revoked Security Event Token's payload (RFC 8417, the CAEP profile).</summary>
public sealed record SecurityEvent(string Iss, string Aud, long Iat, string Jti, SubjectId SubId, SecurityEvents Events);

public sealed record SecurityEvents(
    [property: JsonPropertyName("https://schemas.openid.net/secevent/caep/event-type/session-revoked")] SessionRevokedEvent SessionRevoked);

public sealed record SessionRevokedEvent(long EventTimestamp, string? InitiatingEntity, Dictionary<string, string>? ReasonAdmin);

/// <summary>A complex subject: the user as iss_sub, the tenant and the session as opaque ids.</summary>
public sealed record SubjectId(string Format, IssSubject User, OpaqueSubject Tenant, OpaqueSubject? Session);

public sealed record IssSubject(string Format, string Iss, string Sub);

public sealed record OpaqueSubject(string Format, string Id);
