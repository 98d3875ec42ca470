namespace SessionGate.Infrastructure;

/// <summary>Refuses JSON strings that hold U+0000, which PostgreSQL cannot store: the body is then bad input (400).</summary>
public sealed class NulFreeStringConverter : System.Text.Json.Serialization.JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetString();
        if (value is not null && value.Contains('\0')) throw new JsonException("Strings may not contain NUL characters.");
        return value;
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
