using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SessionGate.Migrations
{
    /// <inheritdoc />
    public partial class KickAllEpoch : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "SessionEpoch",
                table: "users",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);

            migrationBuilder.AddColumn<string>(
                name: "SessionsEndedReason",
                table: "users",
                type: "character varying(32)",
                maxLength: 32,
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "UserEpoch",
                table: "sessions",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "SessionEpoch",
                table: "users");

            migrationBuilder.DropColumn(
                name: "SessionsEndedReason",
                table: "users");

            migrationBuilder.DropColumn(
                name: "UserEpoch",
                table: "sessions");
        }
    }
}
