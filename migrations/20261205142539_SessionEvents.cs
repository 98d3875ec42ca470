using System;
using System.Collections.Generic;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace SessionGate.Migrations
{
    /// <inheritdoc />
    public partial class SessionEvents : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "session_events",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    EventId = table.Column<Guid>(type: "uuid", nullable: false),
                    Type = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    TenantId = table.Column<Guid>(type: "uuid", nullable: false),
                    UserId = table.Column<Guid>(type: "uuid", nullable: false),
                    SessionId = table.Column<Guid>(type: "uuid", nullable: true),
                    Reason = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: true),
                    Detail = table.Column<string>(type: "jsonb", nullable: true),
                    OccurredAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ParentId = table.Column<long>(type: "bigint", nullable: true),
                    DispatchedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_session_events", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "session_expiry_checks",
                columns: table => new
                {
                    SessionId = table.Column<Guid>(type: "uuid", nullable: false),
                    CheckAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_session_expiry_checks", x => x.SessionId);
                    table.ForeignKey(
                        name: "FK_session_expiry_checks_sessions_SessionId",
                        column: x => x.SessionId,
                        principalTable: "sessions",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "webhook_endpoints",
                columns: table => new
                {
                    Id = table.Column<Guid>(type: "uuid", nullable: false),
                    TenantId = table.Column<Guid>(type: "uuid", nullable: false),
                    Url = table.Column<string>(type: "character varying(2048)", maxLength: 2048, nullable: false),
                    Events = table.Column<List<string>>(type: "text[]", nullable: false),
                    Format = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    ProtectedSecret = table.Column<string>(type: "text", nullable: false),
                    PreviousProtectedSecret = table.Column<string>(type: "text", nullable: true),
                    PreviousSecretUntil = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    DisabledAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    DisabledReason = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    FailingSince = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_webhook_endpoints", x => x.Id);
                    table.ForeignKey(
                        name: "FK_webhook_endpoints_tenants_TenantId",
                        column: x => x.TenantId,
                        principalTable: "tenants",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "webhook_deliveries",
                columns: table => new
                {
                    Id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    EndpointId = table.Column<Guid>(type: "uuid", nullable: false),
                    EventRowId = table.Column<long>(type: "bigint", nullable: false),
                    EventId = table.Column<Guid>(type: "uuid", nullable: false),
                    Type = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    UserId = table.Column<Guid>(type: "uuid", nullable: false),
                    Seq = table.Column<long>(type: "bigint", nullable: false),
                    Status = table.Column<string>(type: "character varying(16)", maxLength: 16, nullable: false),
                    Attempts = table.Column<int>(type: "integer", nullable: false),
                    NextAttemptAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    LeaseUntil = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    FirstAttemptAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    LastAttemptAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    DeliveredAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    LastStatusCode = table.Column<int>(type: "integer", nullable: true),
                    LastError = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: true),
                    ResponseExcerpt = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_webhook_deliveries", x => x.Id);
                    table.ForeignKey(
                        name: "FK_webhook_deliveries_session_events_EventRowId",
                        column: x => x.EventRowId,
                        principalTable: "session_events",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                    table.ForeignKey(
                        name: "FK_webhook_deliveries_webhook_endpoints_EndpointId",
                        column: x => x.EndpointId,
                        principalTable: "webhook_endpoints",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "IX_session_events_OccurredAt",
                table: "session_events",
                column: "OccurredAt");

            migrationBuilder.CreateIndex(
                name: "IX_session_events_undispatched",
                table: "session_events",
                column: "Id",
                filter: "\"DispatchedAt\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_session_expiry_checks_CheckAt",
                table: "session_expiry_checks",
                column: "CheckAt");

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_due",
                table: "webhook_deliveries",
                column: "NextAttemptAt",
                filter: "\"Status\" = 'pending'");

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_EndpointId_Id",
                table: "webhook_deliveries",
                columns: new[] { "EndpointId", "Id" });

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_EventRowId",
                table: "webhook_deliveries",
                column: "EventRowId");

            migrationBuilder.CreateIndex(
                name: "IX_webhook_deliveries_queue",
                table: "webhook_deliveries",
                columns: new[] { "EndpointId", "UserId", "Seq", "Id" },
                filter: "\"Status\" = 'pending'");

            migrationBuilder.CreateIndex(
                name: "IX_webhook_endpoints_TenantId",
                table: "webhook_endpoints",
                column: "TenantId");

            // Every instance's dispatcher LISTENs on this channel: a NOTIFY is delivered only when the transaction that
            // wrote events (or deliveries) commits, so dispatchers wake at once for committed work and never for a
            // change that rolled back. Statement-level, and PostgreSQL folds repeats within a transaction into one.
            migrationBuilder.Sql("""
                CREATE FUNCTION sessiongate_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('sessiongate_events', '');
                    RETURN NULL;
                END $$;
                CREATE TRIGGER session_events_notify AFTER INSERT ON session_events
                    FOR EACH STATEMENT EXECUTE FUNCTION sessiongate_events_notify();
                CREATE TRIGGER webhook_deliveries_notify AFTER INSERT ON webhook_deliveries
                    FOR EACH STATEMENT EXECUTE FUNCTION sessiongate_events_notify();
                """);

            // Sessions already live get their first expiry check, so their expiry is reported too.
            migrationBuilder.Sql("""
                INSERT INTO session_expiry_checks ("SessionId", "CheckAt")
                SELECT "Id", LEAST("IdleExpiresAt", "AbsoluteExpiresAt") FROM sessions WHERE "RevokedAt" IS NULL
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS session_events_notify ON session_events;
                DROP TRIGGER IF EXISTS webhook_deliveries_notify ON webhook_deliveries;
                DROP FUNCTION IF EXISTS sessiongate_events_notify();
                """);

            migrationBuilder.DropTable(
                name: "session_expiry_checks");

            migrationBuilder.DropTable(
                name: "webhook_deliveries");

            migrationBuilder.DropTable(
                name: "session_events");

            migrationBuilder.DropTable(
                name: "webhook_endpoints");
        }
    }
}
