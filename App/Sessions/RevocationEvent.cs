using System.Text.Json.Serialization;

namespace SessionGate.Sessions;

/// <summary>A committed change that Redis and every instance's L1 must learn. Stored as an outbox row.</summary>
public abstract record RevocationEvent
{
    public abstract string Kind { get; }

    /// <summary>
    /// The change a row carries; null for a kind this version does not know. Throws <see cref="JsonException"/> on a
    /// malformed payload, including one that parses but lacks what the change needs.
    /// </summary>
    public static RevocationEvent? Read(string kind, string payload)
    {
        RevocationEvent? change = kind switch
        {
            SessionsRevoked.Name => JsonSerializer.Deserialize(payload, RevocationJson.Default.SessionsRevoked),
            UsersChanged.Name => JsonSerializer.Deserialize(payload, RevocationJson.Default.UsersChanged),
            UserSessionsEnded.Name => JsonSerializer.Deserialize(payload, RevocationJson.Default.UserSessionsEnded),
            RolesChanged.Name => JsonSerializer.Deserialize(payload, RevocationJson.Default.RolesChanged),
            KeysChanged.Name => new KeysChanged(),
            _ => null,
        };
        var complete = change switch
        {
            null => kind is not (SessionsRevoked.Name or UsersChanged.Name or UserSessionsEnded.Name or RolesChanged.Name),
            SessionsRevoked e => e.Reason is not null && e.Sessions is not null,
            UsersChanged e => e.Reason is not null && e.Users is not null,
            UserSessionsEnded e => e.Reason is not null && e.UserId != Guid.Empty,
            RolesChanged e => e.Users is not null && e.TenantId != Guid.Empty,
            _ => true,
        };
        return complete ? change : throw new JsonException($"A {kind} row lacks what the change needs.");
    }

    public string Write() => this switch
    {
        SessionsRevoked e => JsonSerializer.Serialize(e, RevocationJson.Default.SessionsRevoked),
        UsersChanged e => JsonSerializer.Serialize(e, RevocationJson.Default.UsersChanged),
        UserSessionsEnded e => JsonSerializer.Serialize(e, RevocationJson.Default.UserSessionsEnded),
        RolesChanged e => JsonSerializer.Serialize(e, RevocationJson.Default.RolesChanged),
        _ => "{}",
    };
}

/// <summary>A revoked session as Redis needs it (never its secret: only the SHA-256 of an Opaque id).</summary>
public sealed record RevokedSession(Guid Id, Guid UserId, byte[]? SecretHash, DateTimeOffset AbsoluteExpiresAt, string? Jti, DateTimeOffset? JtiExpiresAt);

/// <summary>Sessions ended (logout, kick, ban, password change, policy replacement, refresh reuse).</summary>
public sealed record SessionsRevoked(string Reason, RevokedSession[] Sessions) : RevocationEvent
{
    public const string Name = "sessions.revoked";
    [JsonIgnore] public override string Kind => Name;
}

/// <summary>
/// Every session of the user opened before <see cref="Epoch"/> ended at <see cref="At"/> (kick-all, ban, password
/// change); every credential below security version <see cref="Version"/> is refused. The stored row carries no
/// session list: the request applies it with the sessions its transaction read (<see cref="Ended"/>), the relay
/// writes the sessions' rows and reads them back, and a replay reads them again.
/// </summary>
public sealed record UserSessionsEnded(Guid UserId, long Epoch, long Version, string Reason, DateTimeOffset At) : RevocationEvent
{
    public const string Name = "user.sessions_ended";
    [JsonIgnore] public override string Kind => Name;

    /// <summary>The sessions it ended, as the transaction that ended them read them (never stored: a replay reads them again).</summary>
    [JsonIgnore] public RevokedSession[]? Ended { get; init; }
}

/// <summary>
/// Users whose security version moved (roles, ban, kick-all, password, deletion): their live entries are rewritten.
/// <see cref="Versions"/> (same order as <see cref="Users"/>) are the versions they moved to; rows written before
/// versions were recorded have none, and their users are then judged by PostgreSQL while the row is pending.
/// </summary>
public sealed record UsersChanged(string Reason, Guid[] Users, long[]? Versions = null) : RevocationEvent
{
    public const string Name = "users.changed";
    [JsonIgnore] public override string Kind => Name;
}

/// <summary>
/// A tenant's roles changed (permissions, deletion); <see cref="Users"/> hold an affected role. The tenant's role set
/// moved to <see cref="RolesVersion"/>, and the holders to <see cref="Versions"/> (same order as the users).
/// </summary>
public sealed record RolesChanged(Guid TenantId, Guid[] Users, long? RolesVersion = null, long[]? Versions = null) : RevocationEvent
{
    public const string Name = "roles.changed";
    [JsonIgnore] public override string Kind => Name;
}

/// <summary>The signing keys changed (rotation, emergency revocation): every instance re-reads them.</summary>
public sealed record KeysChanged : RevocationEvent
{
    public const string Name = "keys.changed";
    [JsonIgnore] public override string Kind => Name;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(SessionsRevoked))]
[JsonSerializable(typeof(UsersChanged))]
[JsonSerializable(typeof(UserSessionsEnded))]
[JsonSerializable(typeof(RolesChanged))]
internal sealed partial class RevocationJson : JsonSerializerContext;
