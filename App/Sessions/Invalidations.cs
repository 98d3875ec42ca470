using Microsoft.AspNetCore.WebUtilities;
using SessionGate.Caching;

namespace SessionGate.Sessions;

/// <summary>
/// A revoked session, as every instance's L1 remembers it (a final entry): <c>&lt;sid&gt;|&lt;secret hash&gt;|&lt;reason&gt;</c>.
/// </summary>
public sealed record SessionTombstone(Guid SessionId, byte[]? SecretHash, string Reason) : IInvalidation<SessionTombstone>
{
    public static char Kind => 't';

    public string Argument => $"{SessionId:N}|{(SecretHash is null ? "" : WebEncoders.Base64UrlEncode(SecretHash))}|{Reason}";

    public static bool TryRead(string argument, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out SessionTombstone message)
    {
        var parts = argument.Split('|');
        message = null;
        if (parts.Length != 3 || !Guid.TryParse(parts[0], out var sessionId) || parts[2].Length == 0) return false;
        message = new SessionTombstone(sessionId, parts[1].Length > 0 ? WebEncoders.Base64UrlDecode(parts[1]) : null, parts[2]);
        return true;
    }
}

/// <summary>Every credential of the user below <see cref="Version"/> is revoked (see <see cref="UserFloors"/>).</summary>
public sealed record UserFloorRaised(Guid UserId, long Version, string Reason) : IInvalidation<UserFloorRaised>
{
    public static char Kind => 'f';

    public string Argument => $"{UserId:N}|{Version}|{Reason}";

    public static bool TryRead(string argument, [System.Diagnostics.CodeAnalysis.MaybeNullWhen(false)] out UserFloorRaised message)
    {
        var parts = argument.Split('|');
        message = parts.Length == 3 && Guid.TryParse(parts[0], out var user) && long.TryParse(parts[1], out var version) && parts[2].Length > 0
            ? new UserFloorRaised(user, version, parts[2])
            : null;
        return message is not null;
    }
}

/// <summary>The tenant's roles changed: its cached role set is stale.</summary>
public readonly record struct RoleSetInvalidated(Guid TenantId) : IInvalidation<RoleSetInvalidated>
{
    public static char Kind => 'r';

    public string Argument => TenantId.ToString("N");

    public static bool TryRead(string argument, out RoleSetInvalidated message) => Invalidation.TryReadId(argument, id => new RoleSetInvalidated(id), out message);
}
