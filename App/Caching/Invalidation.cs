using System.Diagnostics.CodeAnalysis;

namespace SessionGate.Caching;

/// <summary>
/// A message on the invalidation bus. On the wire a message is one line, <c>&lt;kind&gt;:&lt;argument&gt;</c>, and one
/// publish may carry several lines. Each message type names its one-character kind and writes and reads its own
/// argument, so a kind is defined in one place: the feature that owns it (eShop's integration events, by type).
/// </summary>
public interface IInvalidation<TSelf> where TSelf : IInvalidation<TSelf>
{
    static abstract char Kind { get; }

    static abstract bool TryRead(string argument, [MaybeNullWhen(false)] out TSelf message);

    /// <summary>The argument, as <see cref="TryRead"/> reads it back.</summary>
    string Argument { get; }
}

/// <summary>The one codec of the bus's lines.</summary>
public static class Invalidation
{
    public static string Line<T>(T message) where T : IInvalidation<T> => $"{T.Kind}:{message.Argument}";

    /// <summary>Reads a message whose argument is one id.</summary>
    public static bool TryReadId<T>(string argument, Func<Guid, T> create, out T message)
    {
        var ok = Guid.TryParse(argument, out var id);
        message = create(id);
        return ok;
    }

    /// <summary>Splits a line into its kind and argument; false for anything that is not a line.</summary>
    public static bool TrySplit(ReadOnlySpan<char> line, out char kind, out ReadOnlySpan<char> argument)
    {
        kind = line.Length >= 2 && line[1] == ':' ? line[0] : '\0';
        argument = kind == '\0' ? default : line[2..];
        return kind != '\0';
    }
}

/// <summary>Everything an L1 holds for the user is stale (sessions, revocation state, assurance).</summary>
public readonly record struct UserInvalidated(Guid UserId) : IInvalidation<UserInvalidated>
{
    public static char Kind => 'u';

    public string Argument => UserId.ToString("N");

    public static bool TryRead(string argument, out UserInvalidated message) => Invalidation.TryReadId(argument, id => new UserInvalidated(id), out message);
}

/// <summary>The bus's own probe: an instance proves its subscription by receiving what it sent.</summary>
internal readonly record struct Probe(string Instance, long Number) : IInvalidation<Probe>
{
    public static char Kind => 'p';

    public string Argument => $"{Instance}:{Number}";

    public static bool TryRead(string argument, out Probe message)
    {
        var sep = argument.IndexOf(':');
        if (sep > 0 && long.TryParse(argument.AsSpan(sep + 1), out var n))
        {
            message = new Probe(argument[..sep], n);
            return true;
        }
        message = default;
        return false;
    }
}
