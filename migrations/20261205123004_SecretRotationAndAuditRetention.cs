using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SessionGate.Migrations
{
    /// <inheritdoc />
    public partial class SecretRotationAndAuditRetention : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "ActiveFrom",
                table: "server_secrets",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RetiresAt",
                table: "server_secrets",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_audit_events_At",
                table: "audit_events",
                column: "At");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_audit_events_At",
                table: "audit_events");

            migrationBuilder.DropColumn(
                name: "ActiveFrom",
                table: "server_secrets");

            migrationBuilder.DropColumn(
                name: "RetiresAt",
                table: "server_secrets");
        }
    }
}
