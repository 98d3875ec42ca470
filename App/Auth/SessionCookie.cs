using Microsoft.Extensions.Primitives;

namespace SessionGate.Auth;

/// <summary>What a request's <c>Cookie</c> header says about the session cookie.</summary>
public enum SessionCookieState
{
    /// <summary>No cookie of that name, in any spelling.</summary>
    Absent,

    /// <summary>Exactly one pair with exactly that name and a well-formed value.</summary>
    Present,

    /// <summary>
    /// The name appears in a way two parsers could read differently: twice, in another case, behind a comma,
    /// with spaces around <c>=</c>, or with a value that is not RFC 6265 cookie octets. Such a request is refused.
    /// </summary>
    Ambiguous,
}

/// <summary>The session cookie as <see cref="SessionCookie.Find"/> read it; <see cref="Value"/> is set when present.</summary>
public readonly record struct SessionCookieReading(SessionCookieState State, string? Value);

/// <summary>
/// The one reading of the session cookie. Authentication takes the credential from it, and the built-in gateway
/// and forward auth strip it with it, so what is judged and what is withheld from a downstream can never differ.
/// The grammar is RFC 6265's <c>cookie-string</c>: pairs separated by <c>;</c>, the name matched exactly (ordinal) and
/// once. Anything that merely looks like the session cookie (another case, a second copy, hidden behind a comma as
/// some parsers split) is <see cref="SessionCookieState.Ambiguous"/>, and the caller refuses the request.
/// </summary>
public static class SessionCookie
{
    /// <summary>Cheap pre-check: does any Cookie header mention the name at all (in any case)?</summary>
    public static bool Mentions(StringValues headers, string name)
    {
        foreach (var header in headers)
        {
            if (header is not null && header.Contains(name, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    /// <summary>Reads the session cookie from every <c>Cookie</c> header of a request.</summary>
    public static SessionCookieReading Find(StringValues headers, string name) => Scan(headers, name, kept: null);

    /// <summary>
    /// The request's cookies without the session cookie, each other pair byte for byte, joined with <c>"; "</c>.
    /// <see cref="SessionCookieReading.State"/> says whether there was one to strip; on
    /// <see cref="SessionCookieState.Ambiguous"/> nothing may be forwarded at all.
    /// </summary>
    public static (SessionCookieReading Reading, string Others) Without(StringValues headers, string name)
    {
        var kept = new List<string>();
        var reading = Scan(headers, name, kept);
        return (reading, string.Join("; ", kept));
    }

    private static SessionCookieReading Scan(StringValues headers, string name, List<string>? kept)
    {
        string? value = null;
        var count = 0;
        var ambiguous = false;
        foreach (var header in headers)
        {
            if (string.IsNullOrEmpty(header)) continue;
            foreach (var range in header.AsSpan().Split(';'))
            {
                var pair = header.AsSpan(range).Trim(" \t");
                if (pair.IsEmpty) continue;
                if (pair.Contains(name, StringComparison.OrdinalIgnoreCase))
                {
                    if (pair.Length > name.Length && pair[name.Length] == '=' && pair.StartsWith(name, StringComparison.Ordinal)
                        && CookieValue(pair[(name.Length + 1)..]) is { } exact)
                    {
                        count++;
                        value = exact;
                        continue;
                    }
                    if (NamesIt(pair, name))
                    {
                        ambiguous = true;
                        continue;
                    }
                    // The name only occurs inside another cookie's value: that cookie is not ours.
                }
                kept?.Add(pair.ToString());
            }
        }
        if (ambiguous || count > 1) return new(SessionCookieState.Ambiguous, null);
        return count == 1 ? new(SessionCookieState.Present, value) : new(SessionCookieState.Absent, null);
    }

    // Would a lenient parser (one that also splits on ',' and ignores case and spaces) find the name here?
    private static bool NamesIt(ReadOnlySpan<char> pair, string name)
    {
        foreach (var range in pair.Split(','))
        {
            var part = pair[range];
            var eq = part.IndexOf('=');
            var candidate = (eq < 0 ? part : part[..eq]).Trim(" \t\"");
            if (candidate.Equals(name, StringComparison.OrdinalIgnoreCase)) return true;
        }
        return false;
    }

    // RFC 6265: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ); null when it is not one.
    private static string? CookieValue(ReadOnlySpan<char> value)
    {
        if (value.Length >= 2 && value[0] == '"' && value[^1] == '"') value = value[1..^1];
        foreach (var c in value)
        {
            if (c is < '\x21' or > '\x7E' or '"' or ',' or ';' or '\\') return null;
        }
        return value.ToString();
    }
}
