using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace SessionGate.Migrations
{
    /// <inheritdoc />
    public partial class RedisProof : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "LastError",
                table: "outbox",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "SetAsideAt",
                table: "outbox",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "TxId",
                table: "outbox",
                type: "bigint",
                nullable: false,
                defaultValueSql: "(pg_current_xact_id()::text::bigint)");

            migrationBuilder.CreateTable(
                name: "redis_keyspaces",
                columns: table => new
                {
                    Prefix = table.Column<string>(type: "character varying(128)", maxLength: 128, nullable: false),
                    Generation = table.Column<long>(type: "bigint", nullable: false),
                    GenerationStart = table.Column<long>(type: "bigint", nullable: false),
                    PrunedBelow = table.Column<long>(type: "bigint", nullable: false),
                    Writer = table.Column<string>(type: "character varying(64)", maxLength: 64, nullable: true),
                    WriterUntil = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ChangedAt = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_redis_keyspaces", x => x.Prefix);
                });

            migrationBuilder.CreateIndex(
                name: "IX_outbox_set_aside",
                table: "outbox",
                column: "Id",
                filter: "\"SetAsideAt\" IS NOT NULL");

            migrationBuilder.CreateIndex(
                name: "IX_outbox_TxId",
                table: "outbox",
                column: "TxId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "redis_keyspaces");

            migrationBuilder.DropIndex(
                name: "IX_outbox_set_aside",
                table: "outbox");

            migrationBuilder.DropIndex(
                name: "IX_outbox_TxId",
                table: "outbox");

            migrationBuilder.DropColumn(
                name: "LastError",
                table: "outbox");

            migrationBuilder.DropColumn(
                name: "SetAsideAt",
                table: "outbox");

            migrationBuilder.DropColumn(
                name: "TxId",
                table: "outbox");
        }
    }
}
