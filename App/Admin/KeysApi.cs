using Microsoft.AspNetCore.Http.HttpResults;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tokens;

namespace SessionGate.Admin;

public sealed record RotatedKey(string Kid);

internal static class KeysApi
{
    // POST /admin/keys/rotate          platform:admin
    // POST /admin/keys/{kid}/revoke    platform:admin
    public static void MapAdminKeys(this RouteGroupBuilder admin)
    {
        var keys = admin.MapGroup("/keys").WithTags("Admin: keys").RequireAuthorization(Permissions.PlatformAdmin);
        keys.MapPost("/rotate", Rotate).RequireStepUp().WithName("RotateKeys")
            .WithSummary("Add a new signing key; old keys stay published until their tokens have expired.")
            .ProducesProblems(400, Problems.Validation);
        keys.MapPost("/{kid}/revoke", Revoke).RequireStepUp().WithName("RevokeKey")
            .WithSummary("Emergency: the key leaves the JWKS and every token it signed is refused at once; a new key signs from now on.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(404, Problems.NotFound);
    }

    private static async Task<Results<Ok<RotatedKey>, ProblemHttpResult>> Rotate(
        [AsParameters] AdminScope scope, HttpContext http, KeyRing keys, SessionService sessions, AuditLog audit, CancellationToken ct)
    {
        if (keys.IsSymmetric) return Problems.ValidationFailed("HS256 uses the configured secret; rotate it in configuration.");
        var kid = await sessions.ChangeAsync(async change =>
        {
            var kid = await keys.RotateAsync(change.Db, ct);
            change.KeysChanged();
            audit.Add(AuditTypes.KeyRotated, scope.Admin.CallerId, null, scope.Admin.TenantId, ClientAddress.Of(http), new { kid });
            return kid;
        }, ct);
        await keys.ReloadAsync(ct);
        return TypedResults.Ok(new RotatedKey(kid));
    }

    private static async Task<Results<Ok<RotatedKey>, ProblemHttpResult>> Revoke(
        string kid, [AsParameters] AdminScope scope, HttpContext http, KeyRing keys, SessionService sessions, AuditLog audit, CancellationToken ct)
    {
        if (keys.IsSymmetric) return Problems.ValidationFailed("HS256 uses the configured secret; replace it in configuration.");
        if (kid.Length > 64) return AdminApi.NotFound();
        var revoked = await sessions.ChangeAsync(async change =>
        {
            if (!await keys.RevokeAsync(change.Db, kid, ct)) return change.Cancel(false);
            change.KeysChanged();
            audit.Add(AuditTypes.KeyRevoked, scope.Admin.CallerId, null, scope.Admin.TenantId, ClientAddress.Of(http), new { kid });
            return true;
        }, ct);
        if (!revoked) return AdminApi.NotFound();
        var set = await keys.ReloadAsync(ct);
        return TypedResults.Ok(new RotatedKey(set.Signing.Key.KeyId));
    }
}
