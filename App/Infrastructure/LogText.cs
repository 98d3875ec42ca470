using System.Text;

namespace SessionGate.Infrastructure;

/// <summary>Makes attacker-chosen text (tenant slugs, usernames) safe to log: no control characters, bounded length.</summary>
public static class LogText
{
    public static string Safe(string? value, int max = 64)
    {
        if (string.IsNullOrEmpty(value)) return "";
        var text = value.Length > max ? value[..max] : value;
        if (!text.Any(char.IsControl)) return text;
        var sb = new StringBuilder(text.Length + 8);
        foreach (var c in text) sb.Append(char.IsControl(c) ? $"\\u{(int)c:x4}" : c);
        return sb.ToString();
    }
}
