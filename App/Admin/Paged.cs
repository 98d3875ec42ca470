namespace SessionGate.Admin;

/// <summary>
/// A page. Lists that can grow with the number of online sessions also hand out <see cref="Next"/>: pass it back as
/// <c>after</c> for the next page, which then costs the same however deep it is (keyset paging, not OFFSET).
/// </summary>
public sealed record Paged<T>(IReadOnlyList<T> Items, int Page, int Size, long Total,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)] string? Next = null);
