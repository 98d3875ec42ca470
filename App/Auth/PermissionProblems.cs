using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>
/// A 403 says which permission was missing (<c>required_permissions</c>): the caller is already known, and the names
/// of permissions are public (GET /admin/permissions). Everything else goes the default way.
/// </summary>
public sealed class PermissionProblems : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (result.Forbidden && result.AuthorizationFailure is { } failure)
        {
            var needed = failure.FailedRequirements.OfType<ClaimsAuthorizationRequirement>()
                .Where(r => r.ClaimType == SessionClaims.Permission)
                .SelectMany(r => r.AllowedValues ?? []).Distinct().ToArray();
            if (needed.Length > 0)
            {
                var detail = needed.Length == 1 ? $"This needs the permission {needed[0]}." : $"This needs one of the permissions {string.Join(", ", needed)}.";
                return Problems.WriteAsync(context, StatusCodes.Status403Forbidden, Problems.Forbidden, detail,
                    new Dictionary<string, object?> { ["required_permissions"] = needed });
            }
        }
        return _default.HandleAsync(next, context, policy, result);
    }
}
