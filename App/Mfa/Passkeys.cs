using Fido2NetLib;
using Fido2NetLib.Objects;
using SessionGate.Data;

namespace SessionGate.Mfa;

/// <summary>A ceremony's start: its id and the options the browser passes to navigator.credentials (JSON form).</summary>
public sealed record CeremonyStart(string CeremonyId, JsonElement Options);

/// <summary>
/// WebAuthn with the Fido2 library: registration and assertion ceremonies, their challenges kept in Redis (single use,
/// <see cref="WebAuthnOptions.ChallengeLifetime"/>). The relying party is configuration only (never the Host header).
/// An assertion must come from a credential of the right user (or, signing in without a password, of the tenant the
/// ceremony was started for), move the signature counter forward, and carry user verification where it is required.
/// </summary>
public sealed partial class Passkeys(AppDbContext db, IFido2 fido2, MfaStore store, IOptions<WebAuthnOptions> options, TimeProvider time,
    ILogger<Passkeys> logger)
{
    // The browser's JSON form (PublicKeyCredential.toJSON()): camelCase, binary as base64url.
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<CeremonyStart> StartRegistrationAsync(Guid userId, Guid tenantId, string username, CancellationToken ct)
    {
        var existing = await db.Passkeys.AsNoTracking().Where(p => p.UserId == userId).Select(p => p.CredentialId).ToListAsync(ct);
        var create = fido2.RequestNewCredential(new RequestNewCredentialParams
        {
            User = new Fido2User { Id = userId.ToByteArray(), Name = username, DisplayName = username },
            ExcludeCredentials = existing.Select(id => new PublicKeyCredentialDescriptor(id)).ToList(),
            // Discoverable, so it signs in without a password; user-verified, so that sign-in is two factors in one.
            AuthenticatorSelection = new AuthenticatorSelection { ResidentKey = ResidentKeyRequirement.Required, UserVerification = UserVerificationRequirement.Required },
            AttestationPreference = Enum.Parse<AttestationConveyancePreference>(options.Value.Attestation, ignoreCase: true),
            Extensions = new AuthenticationExtensionsClientInputs { CredProps = true },
        });
        return await StartAsync(new Ceremony(CeremonyPurpose.Register, userId, tenantId, null, create.ToJson()));
    }

    /// <summary>Verifies the browser's attestation and stores the passkey; null when it is refused (the reason is logged, not returned).</summary>
    public async Task<Passkey?> FinishRegistrationAsync(Guid userId, Guid tenantId, string ceremonyId, JsonElement credential, string? name, CancellationToken ct)
    {
        var ceremony = await store.TakeCeremonyAsync(ceremonyId);
        if (ceremony is not { Purpose: CeremonyPurpose.Register } || ceremony.UserId != userId) return Refused("unknown or spent ceremony");
        AuthenticatorAttestationRawResponse? response;
        try
        {
            response = credential.Deserialize<AuthenticatorAttestationRawResponse>(Json);
        }
        catch (JsonException)
        {
            return Refused("unreadable attestation");
        }
        if (response?.Response is null) return Refused("unreadable attestation");
        RegisteredPublicKeyCredential made;
        try
        {
            made = await fido2.MakeNewCredentialAsync(new MakeNewCredentialParams
            {
                AttestationResponse = response,
                OriginalOptions = CredentialCreateOptions.FromJson(ceremony.Options),
                IsCredentialIdUniqueToUserCallback = async (p, token) => !await db.Passkeys.AnyAsync(k => k.CredentialId == p.CredentialId, token),
            }, ct);
        }
        catch (Exception e) when (e is Fido2VerificationException or FormatException or ArgumentException or InvalidOperationException or JsonException)
        {
            return Refused(e is Fido2VerificationException f ? f.Code.ToString() : e.GetType().Name);
        }
        var allowed = options.Value.AllowedAaguids;
        if (allowed.Count > 0 && !allowed.Contains(made.AaGuid)) return Refused("authenticator not allowed (AAGUID)");
        var passkey = new Passkey
        {
            UserId = userId,
            TenantId = tenantId,
            CredentialId = made.Id,
            PublicKey = made.PublicKey,
            SignCount = made.SignCount,
            Name = string.IsNullOrWhiteSpace(name) ? "Passkey" : name.Trim(),
            AaGuid = made.AaGuid,
            Transports = made.Transports?.Select(t => t.ToString().ToLowerInvariant()).ToArray() ?? [],
            BackupEligible = made.IsBackupEligible,
            BackedUp = made.IsBackedUp,
            AttestationFormat = made.AttestationFormat,
            CreatedAt = time.GetUtcNow(),
        };
        db.Passkeys.Add(passkey);
        await db.SaveChangesAsync(ct); // a credential id registered meanwhile is a unique violation: 409
        return passkey;
    }

    /// <summary>
    /// Starts an assertion. With a user: only that user's passkeys are allowed (second factor, step-up). Without one:
    /// any discoverable passkey of the tenant (passwordless); the answer is the same whether the tenant exists or not.
    /// </summary>
    public async Task<CeremonyStart?> StartAssertionAsync(CeremonyPurpose purpose, Guid? userId, Guid? tenantId, string? binding, CancellationToken ct)
    {
        var allowed = new List<PublicKeyCredentialDescriptor>();
        if (userId is { } id)
        {
            var ids = await db.Passkeys.AsNoTracking().Where(p => p.UserId == id).Select(p => new { p.CredentialId, p.Transports }).ToListAsync(ct);
            if (ids.Count == 0) return null;
            allowed.AddRange(ids.Select(p => new PublicKeyCredentialDescriptor(PublicKeyCredentialType.PublicKey, p.CredentialId, Transports(p.Transports))));
        }
        var get = fido2.GetAssertionOptions(new GetAssertionOptionsParams
        {
            AllowedCredentials = allowed,
            // Without a password the passkey is both factors, so the authenticator must verify the user.
            UserVerification = purpose == CeremonyPurpose.Login ? UserVerificationRequirement.Required : UserVerificationRequirement.Preferred,
        });
        return await StartAsync(new Ceremony(purpose, userId, tenantId, binding, get.ToJson()));
    }

    /// <summary>A verified assertion: whose passkey it was, and whether the authenticator verified the user.</summary>
    public sealed record Verified(Guid UserId, Guid PasskeyId, bool UserVerified);

    /// <summary>
    /// Verifies an assertion for a ceremony of <paramref name="purpose"/>. The ceremony is spent whatever the outcome.
    /// <paramref name="userId"/> (second factor, step-up) or the ceremony's tenant (passwordless) must own the passkey.
    /// </summary>
    public async Task<Verified?> VerifyAssertionAsync(CeremonyPurpose purpose, string ceremonyId, JsonElement credential, Guid? userId, string? binding,
        CancellationToken ct)
    {
        var ceremony = await store.TakeCeremonyAsync(ceremonyId);
        if (ceremony is null || ceremony.Purpose != purpose || ceremony.UserId != userId || ceremony.Binding != binding)
            return RefusedAssertion("unknown, spent or foreign ceremony");
        AuthenticatorAssertionRawResponse? response;
        try
        {
            response = credential.Deserialize<AuthenticatorAssertionRawResponse>(Json);
        }
        catch (JsonException)
        {
            return RefusedAssertion("unreadable assertion");
        }
        if (response?.Response is null || response.RawId is null) return RefusedAssertion("unreadable assertion");
        var rawId = response.RawId;
        var passkey = await db.Passkeys.AsNoTracking().FirstOrDefaultAsync(p => p.CredentialId == rawId, ct);
        if (passkey is null) return RefusedAssertion("unknown credential");
        if (userId is not null ? passkey.UserId != userId : passkey.TenantId != ceremony.TenantId) return RefusedAssertion("another user's credential");

        var assertionOptions = AssertionOptions.FromJson(ceremony.Options);
        VerifyAssertionResult result;
        try
        {
            result = await fido2.MakeAssertionAsync(new MakeAssertionParams
            {
                AssertionResponse = response,
                OriginalOptions = assertionOptions,
                StoredPublicKey = passkey.PublicKey,
                StoredSignatureCounter = (uint)passkey.SignCount,
                // A user handle, when the authenticator sends one, must name the passkey's owner.
                IsUserHandleOwnerOfCredentialIdCallback = (p, _) => Task.FromResult(p.UserHandle.AsSpan().SequenceEqual(passkey.UserId.ToByteArray())),
            }, ct);
        }
        catch (Exception e) when (e is Fido2VerificationException or FormatException or ArgumentException or InvalidOperationException or JsonException)
        {
            return RefusedAssertion(e is Fido2VerificationException f ? f.Code.ToString() : e.GetType().Name);
        }
        // The counter moves forward once: of two assertions with one counter value (a clone, a replay), one wins.
        var now = time.GetUtcNow();
        long count = result.SignCount;
        var moved = await db.Passkeys.Where(p => p.Id == passkey.Id && (p.SignCount < count || (count == 0 && p.SignCount == 0)))
            .ExecuteUpdateAsync(s => s.SetProperty(p => p.SignCount, count).SetProperty(p => p.LastUsedAt, now).SetProperty(p => p.BackedUp, result.IsBackedUp), ct);
        if (moved == 0) return RefusedAssertion("signature counter did not move forward");
        var flags = AuthenticatorFlags(response.Response.AuthenticatorData);
        return new Verified(passkey.UserId, passkey.Id, (flags & 0x04) != 0);
    }

    /// <summary>The authenticator data's flags byte (after the 32-byte RP ID hash): bit 0 user present, bit 2 user verified.</summary>
    private static byte AuthenticatorFlags(byte[]? authenticatorData) => authenticatorData is { Length: > 32 } ? authenticatorData[32] : (byte)0;

    private static AuthenticatorTransport[]? Transports(string[] names)
    {
        var list = names.Select(n => Enum.TryParse<AuthenticatorTransport>(n, true, out var t) ? t : (AuthenticatorTransport?)null).OfType<AuthenticatorTransport>().ToArray();
        return list.Length == 0 ? null : list;
    }

    private async Task<CeremonyStart> StartAsync(Ceremony ceremony)
    {
        var id = await store.StartCeremonyAsync(ceremony);
        using var doc = JsonDocument.Parse(ceremony.Options);
        return new CeremonyStart(id, doc.RootElement.Clone());
    }

    private Passkey? Refused(string why)
    {
        LogRegistrationRefused(logger, why);
        return null;
    }

    private Verified? RefusedAssertion(string why)
    {
        LogAssertionRefused(logger, why);
        return null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Passkey registration refused: {Reason}")]
    private static partial void LogRegistrationRefused(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Passkey assertion refused: {Reason}")]
    private static partial void LogAssertionRefused(ILogger logger, string reason);
}
