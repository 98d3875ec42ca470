using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SessionGate.Migrations
{
    /// <inheritdoc />
    public partial class ServiceClients : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "service_clients",
                columns: table => new
                {
                    ClientId = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: false),
                    SecretHash = table.Column<byte[]>(type: "bytea", maxLength: 32, nullable: false),
                    Audience = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    MayCall = table.Column<string[]>(type: "text[]", nullable: false),
                    CreatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    SecretRotatedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_service_clients", x => x.ClientId);
                });

            migrationBuilder.CreateIndex(
                name: "IX_service_clients_Audience",
                table: "service_clients",
                column: "Audience",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "service_clients");
        }
    }
}
