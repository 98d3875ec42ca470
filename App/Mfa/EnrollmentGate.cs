using SessionGate.Sessions;

namespace SessionGate.Mfa;

/// <summary>
/// The enrolment-only session: a user whom the tenant requires to use a second factor, and who has none yet, may call
/// only /auth/* (and anonymous routes, such as the account pages) until one is enrolled; every other protected route,
/// gateway routes included, answers 403 <c>mfa-enrollment-required</c>. Costs one claim look-up per authenticated request.
/// </summary>
public static class EnrollmentGate
{
    public static IApplicationBuilder UseMfaEnrollmentGate(this IApplicationBuilder app) => app.Use((http, next) =>
    {
        // Read through the feature: HttpContext.User builds an empty principal for every anonymous request.
        var user = http.Features.Get<Microsoft.AspNetCore.Http.Features.Authentication.IHttpAuthenticationFeature>()?.User;
        if (user?.Identity?.IsAuthenticated == true && user.IsEnrolmentOnly()
            && !http.Request.Path.StartsWithSegments("/auth") && http.GetEndpoint() is { } endpoint && ErrorCatalog.IsProtected(endpoint.Metadata))
            return Problems.WriteAsync(http, StatusCodes.Status403Forbidden, Problems.MfaEnrollmentRequired,
                "Your tenant requires a second factor: enrol one (POST /auth/mfa/totp or POST /auth/passkeys/options, or at /account/security) first.");
        return next(http);
    });
}
