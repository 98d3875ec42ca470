using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.Admin;

public sealed record RotatedKey(string Kid);

/// <summary>The session-id/refresh-token MAC keys after a rotation: the new key's id and when it signs, and every stored key.</summary>
public sealed record RotatedSessionIdKey(int KeyId, DateTimeOffset ActiveFrom, IReadOnlyList<SessionSecrets.KeyInfo> Keys);

internal static class KeysApi
{
    private const string SymmetricKey = "HS256 uses the configured secret; rotate it in configuration.";

    // POST /admin/keys/rotate          platform:admin
    // POST /admin/keys/{kid}/revoke    platform:admin
    // POST /admin/keys/session-id/rotate  platform:admin
    public static void MapAdminKeys(this RouteGroupBuilder admin)
    {
        var keys = admin.MapGroup("/keys").WithTags("Admin: keys").RequireAuthorization(Permissions.PlatformAdmin);
        keys.MapPost("/rotate", Rotate).RequireStepUp().WithName("RotateKeys")
            .WithSummary("Add a new signing key; old keys stay published until their tokens have expired.")
            .ProducesProblems(400, Problems.Validation).WithProblemExample(Problems.Validation, SymmetricKey);
        keys.MapPost("/{kid}/revoke", Revoke).RequireStepUp().WithName("RevokeKey")
            .WithSummary("Emergency: the key leaves the JWKS and every token it signed is refused at once; a new key signs from now on.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(404, Problems.NotFound).WithProblemExample(Problems.Validation, SymmetricKey);
        keys.MapPost("/session-id/rotate", RotateSessionIdKey).WithName("RotateSessionIdKey")
            .WithSummary("Add the next key that MACs session ids and refresh tokens (dotnet App.dll rotate-session-id-key does the same).")
            .WithDescription("Every instance learns the new key before any signs with it (it signs from `active_from`, after `SessionIdKey:ActivationDelay`); " +
                "ids and refresh tokens made under the older keys stay valid for `SessionIdKey:Overlap` after that, then are refused. " +
                "The key guards against floods of forged ids (refused without I/O); an id itself is 256 random bits.");
    }

    private static async Task<Ok<RotatedSessionIdKey>> RotateSessionIdKey(
        [AsParameters] AdminServices services, SessionSecrets secrets, CancellationToken ct)
    {
        var db = services.Db;
        SessionSecrets.KeyInfo key;
        await using (var tx = await db.Database.BeginTransactionAsync(ct))
        {
            key = await secrets.RotateAsync(db, ct);
            services.Audit.Record(AuditTypes.SessionIdKeyRotated, detail: new { key_id = key.Id, active_from = key.ActiveFrom });
            await db.SaveChangesAsync(ct);
            await tx.CommitAsync(ct);
        }
        await secrets.ReloadAsync(ct);
        return TypedResults.Ok(new RotatedSessionIdKey(key.Id, key.ActiveFrom, await SessionSecrets.DescribeAsync(db, ct)));
    }

    private static async Task<Results<Ok<RotatedKey>, ProblemHttpResult>> Rotate(
        [AsParameters] AdminServices services, KeyRing keys, CancellationToken ct)
    {
        if (keys.IsSymmetric) return Problems.ValidationFailed("HS256 uses the configured secret; rotate it in configuration.");
        var kid = await services.Sessions.ChangeAsync(async change =>
        {
            var kid = await keys.RotateAsync(change.Db, ct);
            change.KeysChanged();
            services.Audit.Record(AuditTypes.KeyRotated, detail: new { kid });
            return kid;
        }, ct);
        await keys.ReloadAsync(ct);
        return TypedResults.Ok(new RotatedKey(kid));
    }

    private static async Task<Results<Ok<RotatedKey>, ProblemHttpResult>> Revoke(
        [System.ComponentModel.Description("The key id (kid), as the JWKS lists it.")] string kid, [AsParameters] AdminServices services, KeyRing keys, CancellationToken ct)
    {
        if (keys.IsSymmetric) return Problems.ValidationFailed("HS256 uses the configured secret; replace it in configuration.");
        if (kid.Length > 64) return AdminApi.NotFound();
        var revoked = await services.Sessions.ChangeAsync(async change =>
        {
            if (!await keys.RevokeAsync(change.Db, kid, ct)) return change.Cancel(false);
            change.KeysChanged();
            services.Audit.Record(AuditTypes.KeyRevoked, detail: new { kid });
            return true;
        }, ct);
        if (!revoked) return AdminApi.NotFound();
        var set = await keys.ReloadAsync(ct);
        return TypedResults.Ok(new RotatedKey(set.Signing.Key.KeyId));
    }
}
