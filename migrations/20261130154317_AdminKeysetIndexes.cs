using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SessionGate.Migrations
{
    /// <inheritdoc />
    public partial class AdminKeysetIndexes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_sessions_live_by_tenant",
                table: "sessions");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_live_by_tenant",
                table: "sessions",
                columns: new[] { "TenantId", "Id" },
                filter: "\"RevokedAt\" IS NULL");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_live_users_by_tenant",
                table: "sessions",
                columns: new[] { "TenantId", "UserId" },
                filter: "\"RevokedAt\" IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_sessions_live_by_tenant",
                table: "sessions");

            migrationBuilder.DropIndex(
                name: "IX_sessions_live_users_by_tenant",
                table: "sessions");

            migrationBuilder.CreateIndex(
                name: "IX_sessions_live_by_tenant",
                table: "sessions",
                columns: new[] { "TenantId", "CreatedAt" },
                filter: "\"RevokedAt\" IS NULL");
        }
    }
}
