namespace SessionGate.Sessions;

/// <summary>What login or refresh hands the client: the access credential and, in the JWT modes, a refresh token.</summary>
public sealed record IssuedCredential(
    string Credential,
    DateTimeOffset CredentialExpiresAt,
    string? RefreshToken,
    DateTimeOffset? RefreshExpiresAt,
    DateTimeOffset SessionExpiresAt,
    DateTimeOffset IdleExpiresAt);
