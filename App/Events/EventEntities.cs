using Microsoft.EntityFrameworkCore.Metadata.Builders;
using SessionGate.Data;

namespace SessionGate.Events;

/// <summary>
/// One event of the outbox that feeds the webhooks, written in the same transaction as the change it reports. A row
/// that stands for many events (a kick-all's sessions, a role's holders) is expanded by the dispatcher into one child
/// row per event; children keep their parent's place in the order (<see cref="ParentId"/>).
/// </summary>
public sealed class SessionEvent
{
    public long Id { get; set; }
    /// <summary>The stable id receivers see (<c>webhook-id</c>, the SET's <c>jti</c>); a retry carries the same.</summary>
    public Guid EventId { get; set; }
    /// <summary>One of <see cref="EventTypes"/> (or an internal kind that the dispatcher expands).</summary>
    public required string Type { get; set; }
    public Guid TenantId { get; set; }
    public Guid UserId { get; set; }
    /// <summary>The public session id, for session events.</summary>
    public Guid? SessionId { get; set; }
    public string? Reason { get; set; }
    /// <summary>Small JSON: what the event adds (until, scope, device_type) or what an expansion needs. Never a credential.</summary>
    public string? Detail { get; set; }
    public DateTimeOffset OccurredAt { get; set; }
    public long? ParentId { get; set; }
    /// <summary>Set once the dispatcher has turned the row into deliveries (or found no endpoint that wants it).</summary>
    public DateTimeOffset? DispatchedAt { get; set; }
}

/// <summary>A receiver registered by a tenant admin.</summary>
public sealed class WebhookEndpoint
{
    public Guid Id { get; set; } = Guid.CreateVersion7();
    public Guid TenantId { get; set; }
    public required string Url { get; set; }
    /// <summary>The event types asked for.</summary>
    public List<string> Events { get; set; } = [];
    /// <summary><c>standard-webhooks</c> or <c>caep</c>.</summary>
    public required string Format { get; set; }
    /// <summary>The <c>whsec_</c> secret, protected with Data Protection (it must sign, so it cannot be hashed).</summary>
    public required string ProtectedSecret { get; set; }
    /// <summary>The secret before the last rotation; deliveries are signed with both until <see cref="PreviousSecretUntil"/>.</summary>
    public string? PreviousProtectedSecret { get; set; }
    public DateTimeOffset? PreviousSecretUntil { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DisabledAt { get; set; }
    public string? DisabledReason { get; set; }
    /// <summary>When the current run of failures began (cleared by any success).</summary>
    public DateTimeOffset? FailingSince { get; set; }
}

/// <summary>One event on its way to one endpoint: the attempts so far and what the last one got.</summary>
public sealed class WebhookDelivery
{
    public long Id { get; set; }
    public Guid EndpointId { get; set; }
    public long EventRowId { get; set; }
    public Guid EventId { get; set; }
    public required string Type { get; set; }
    /// <summary>Deliveries of one user to one endpoint go out in <see cref="Seq"/> order, one at a time.</summary>
    public Guid UserId { get; set; }
    public long Seq { get; set; }
    /// <summary><c>pending</c>, <c>succeeded</c> or <c>failed</c> (every attempt of the schedule failed).</summary>
    public required string Status { get; set; }
    public int Attempts { get; set; }
    public DateTimeOffset NextAttemptAt { get; set; }
    /// <summary>An instance is sending it until then; another takes it over if that instance died.</summary>
    public DateTimeOffset? LeaseUntil { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? FirstAttemptAt { get; set; }
    public DateTimeOffset? LastAttemptAt { get; set; }
    public DateTimeOffset? DeliveredAt { get; set; }
    public int? LastStatusCode { get; set; }
    public string? LastError { get; set; }
    /// <summary>At most the first 256 characters of the receiver's last answer.</summary>
    public string? ResponseExcerpt { get; set; }
}

/// <summary>The values of <see cref="WebhookDelivery.Status"/>.</summary>
public static class DeliveryStatus
{
    public const string Pending = "pending";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

/// <summary>
/// When a live session is next worth looking at for expiry: a lower bound of the moment it expires, kept apart from
/// the session's row so that sliding writes (which move its idle expiry every minute) stay HOT updates and touch no
/// index. The janitor reads the due ones by index, reports the expired and moves the rest to their new moment.
/// </summary>
public sealed class SessionExpiryCheck
{
    public Guid SessionId { get; set; }
    public DateTimeOffset CheckAt { get; set; }
}

internal sealed class SessionEventConfiguration : IEntityTypeConfiguration<SessionEvent>
{
    public void Configure(EntityTypeBuilder<SessionEvent> b)
    {
        b.ToTable("session_events");
        // The dispatcher reads the rows not yet dispatched, in order; the clean-up goes by age.
        b.IsQueue(e => e.Id, "IX_session_events_undispatched", handledAt: nameof(SessionEvent.DispatchedAt), age: e => e.OccurredAt);
        b.Property(e => e.Type).HasMaxLength(ColumnWidths.EventType);
        b.Property(e => e.Reason).HasMaxLength(ColumnWidths.Reason);
        b.Property(e => e.Detail).HasColumnType("jsonb");
    }
}

internal sealed class WebhookEndpointConfiguration : IEntityTypeConfiguration<WebhookEndpoint>
{
    public void Configure(EntityTypeBuilder<WebhookEndpoint> b)
    {
        b.ToTable("webhook_endpoints");
        b.Property(w => w.Url).HasMaxLength(2048);
        b.Property(w => w.Format).HasMaxLength(32);
        b.Property(w => w.DisabledReason).HasMaxLength(200);
        b.HasIndex(w => w.TenantId);
        b.HasOne<Tenant>().WithManyCascading(w => w.TenantId);
    }
}

internal sealed class WebhookDeliveryConfiguration : IEntityTypeConfiguration<WebhookDelivery>
{
    public void Configure(EntityTypeBuilder<WebhookDelivery> b)
    {
        b.ToTable("webhook_deliveries");
        b.Property(d => d.Id).UseIdentityAlwaysColumn();
        b.Property(d => d.Type).HasMaxLength(ColumnWidths.EventType);
        b.Property(d => d.Status).HasMaxLength(16);
        b.Property(d => d.LastError).HasMaxLength(200);
        b.Property(d => d.ResponseExcerpt).HasMaxLength(256);
        // Due deliveries, by when; the head of each (endpoint, user) queue; an endpoint's log, newest first.
        b.HasIndex(d => d.NextAttemptAt, "IX_webhook_deliveries_due").HasFilter("\"Status\" = 'pending'");
        b.HasIndex(d => new { d.EndpointId, d.UserId, d.Seq, d.Id }, "IX_webhook_deliveries_queue").HasFilter("\"Status\" = 'pending'");
        b.HasIndex(d => new { d.EndpointId, d.Id });
        b.HasIndex(d => d.EventRowId);
        b.HasOne<WebhookEndpoint>().WithManyCascading(d => d.EndpointId);
        b.HasOne<SessionEvent>().WithManyCascading(d => d.EventRowId);
    }
}

internal sealed class SessionExpiryCheckConfiguration : IEntityTypeConfiguration<SessionExpiryCheck>
{
    public void Configure(EntityTypeBuilder<SessionExpiryCheck> b)
    {
        b.ToTable("session_expiry_checks");
        b.HasKey(c => c.SessionId);
        b.HasIndex(c => c.CheckAt);
        b.HasOne<Session>().WithManyCascading(c => c.SessionId);
    }
}
