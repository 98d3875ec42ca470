using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using Npgsql;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;
using NpgsqlTypes;

namespace SessionGate.Bench.Scale;

/// <summary>
/// Bulk-inserts the app's own entity objects with PostgreSQL binary COPY. Table, columns, value converters and
/// column types all come from the app's EF model, so a row written here is the row EF would have written (a column
/// added to an entity is picked up; a type this writer does not know fails loudly instead of writing garbage).
/// </summary>
public static class EntityCopy
{
    private sealed record Column(string Name, string StoreType, IClrPropertyGetter Getter, ValueConverter? Converter);

    public static ulong Copy<T>(NpgsqlConnection connection, IModel model, IEnumerable<T> rows) where T : class
    {
        var entity = model.FindEntityType(typeof(T)) ?? throw new BenchException($"{typeof(T).Name} is not in the app's model");
        var table = entity.GetTableName() ?? throw new BenchException($"{typeof(T).Name} has no table");
        var schema = entity.GetSchema();
        var store = StoreObjectIdentifier.Table(table, schema);
        var columns = entity.GetProperties()
            .Where(p => p.GetValueGenerationStrategy(store) is not (NpgsqlValueGenerationStrategy.IdentityAlwaysColumn
                or NpgsqlValueGenerationStrategy.IdentityByDefaultColumn or NpgsqlValueGenerationStrategy.SerialColumn))
            .Select(p => new Column(p.GetColumnName(store) ?? p.Name, p.GetColumnType(store), p.GetGetter(), p.GetTypeMapping().Converter))
            .ToList();
        var target = schema is null ? Quote(table) : $"{Quote(schema)}.{Quote(table)}";
        var sql = $"COPY {target} ({string.Join(", ", columns.Select(c => Quote(c.Name)))}) FROM STDIN (FORMAT BINARY)";

        using var writer = connection.BeginBinaryImport(sql);
        foreach (var row in rows)
        {
            writer.StartRow();
            foreach (var column in columns)
            {
                var value = column.Getter.GetClrValue(row);
                if (value is not null && column.Converter is not null) value = column.Converter.ConvertToProvider(value);
                Write(writer, column, value);
            }
        }
        return writer.Complete();
    }

    private static void Write(NpgsqlBinaryImporter writer, Column column, object? value)
    {
        switch (value)
        {
            case null:
                writer.WriteNull();
                break;
            case Guid g:
                writer.Write(g, NpgsqlDbType.Uuid);
                break;
            case string s when column.StoreType.StartsWith("character varying", StringComparison.Ordinal):
                writer.Write(s, NpgsqlDbType.Varchar);
                break;
            case string s when column.StoreType == "text":
                writer.Write(s, NpgsqlDbType.Text);
                break;
            case DateTimeOffset d:
                writer.Write(d.ToUniversalTime(), NpgsqlDbType.TimestampTz);
                break;
            case long l:
                writer.Write(l, NpgsqlDbType.Bigint);
                break;
            case int i:
                writer.Write(i, NpgsqlDbType.Integer);
                break;
            case bool b:
                writer.Write(b, NpgsqlDbType.Boolean);
                break;
            case byte[] bytes:
                writer.Write(bytes, NpgsqlDbType.Bytea);
                break;
            case List<string> list when column.StoreType == "text[]":
                writer.Write(list, NpgsqlDbType.Array | NpgsqlDbType.Text);
                break;
            default:
                throw new BenchException($"EntityCopy cannot write column {column.Name} ({column.StoreType}) from {value.GetType().Name}; teach it the type");
        }
    }

    private static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
