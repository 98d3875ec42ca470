using StackExchange.Redis;

namespace SessionGate.Sessions;

/// <summary>A user's revocations as the Blacklist hot path needs them: the security version and the revoked sessions and jtis.</summary>
public sealed class UserRevocations
{
    public required long Version { get; init; }
    public string? Reason { get; init; }
    public required Dictionary<string, (string Reason, long Until)> Entries { get; init; }

    public static string SessionField(Guid sessionId) => $"s:{sessionId:N}";
    public static string JtiField(string jti) => $"j:{jti}";
    public static string Value(string reason, DateTimeOffset until) => $"{reason}|{until.ToUnixTimeMilliseconds()}";

    public string? Find(string field, DateTimeOffset now) =>
        Entries.TryGetValue(field, out var e) && e.Until > now.ToUnixTimeMilliseconds() ? e.Reason : null;

    /// <summary>Null when the hash is missing or incomplete (no marker).</summary>
    public static UserRevocations? Parse(HashEntry[] fields)
    {
        string? marker = null;
        var entries = new Dictionary<string, (string, long)>(fields.Length, StringComparer.Ordinal);
        foreach (var f in fields)
        {
            var name = (string)f.Name!;
            var value = (string)f.Value!;
            if (name == "v")
            {
                marker = value;
                continue;
            }
            var bar = value.LastIndexOf('|');
            if (bar > 0 && long.TryParse(value.AsSpan(bar + 1), out var until)) entries[name] = (value[..bar], until);
        }
        if (marker is null) return null;
        var sep = marker.IndexOf('|');
        if (!long.TryParse(sep < 0 ? marker : marker[..sep], out var version)) return null;
        var reason = sep < 0 || sep == marker.Length - 1 ? null : marker[(sep + 1)..];
        return new UserRevocations { Version = version, Reason = reason, Entries = entries };
    }
}
