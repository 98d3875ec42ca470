using SessionGate.Caching;

namespace SessionGate.Tokens;

/// <summary>The signing keys changed: reload them, and forget what was verified or minted with the old set.</summary>
public readonly record struct KeysInvalidated : IInvalidation<KeysInvalidated>
{
    public static char Kind => 'k';

    public string Argument => "";

    public static bool TryRead(string argument, out KeysInvalidated message)
    {
        message = default;
        return true;
    }
}
