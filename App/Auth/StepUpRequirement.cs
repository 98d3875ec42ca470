using System.Globalization;
using SessionGate.Sessions;

namespace SessionGate.Auth;

/// <summary>Whether a caller below a recent aal2 must step up (implemented by the Mfa feature, which knows the factors and policies).</summary>
public interface IStepUpPolicy
{
    /// <summary>How recent an aal2 proof must be (<c>Mfa:StepUpMaxAge</c>).</summary>
    TimeSpan MaxAge { get; }

    /// <summary>Whether the caller has a second factor, or (with <paramref name="policyCounts"/>) its tenant requires one.</summary>
    Task<bool> NeedsSecondFactorAsync(ClaimsPrincipal caller, bool policyCounts, CancellationToken ct);
}

/// <summary>
/// Sensitive routes need a recent second factor: <c>acr</c> aal2 with <c>auth_time</c> within
/// <see cref="IStepUpPolicy.MaxAge"/>, whenever the caller has a second factor (or, on the admin routes, its tenant's
/// policy requires one). Otherwise 401 <c>step-up-required</c> with <c>acr_values</c> and <c>max_age</c> (RFC 9470).
/// A recent aal2 session passes without any I/O; only a lower one costs a query.
/// </summary>
public static class StepUpRequirement
{
    // policyCounts: also when the tenant's policy requires a factor the caller has not enrolled (admin routes). Off on the
    // /auth routes, where such a user enrols one: it could never step up to reach them.
    public static TBuilder RequireStepUp<TBuilder>(this TBuilder builder, bool policyCounts = true) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var policy = http.RequestServices.GetRequiredService<IStepUpPolicy>();
            var assurance = http.User.AssuranceOf();
            if (assurance.IsAal2 && http.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow() - assurance.AuthTime <= policy.MaxAge)
                return await next(context);
            if (!await policy.NeedsSecondFactorAsync(http.User, policyCounts, http.RequestAborted)) return await next(context);
            return StepUpRequired(http, policy.MaxAge);
        }).ProducesProblems(StatusCodes.Status401Unauthorized, Problems.StepUpRequired);

    /// <summary>The 401, with RFC 9470's challenge in <c>WWW-Authenticate</c> and its parameters in the body.</summary>
    public static IResult StepUpRequired(HttpContext http, TimeSpan maxAge)
    {
        var seconds = (long)maxAge.TotalSeconds;
        http.Response.Headers.WWWAuthenticate =
            $"Bearer error=\"insufficient_user_authentication\", error_description=\"A recent second factor is required\", acr_values=\"{SessionAssurance.Aal2}\", max_age={seconds.ToString(CultureInfo.InvariantCulture)}";
        return Problems.Result(StatusCodes.Status401Unauthorized, Problems.StepUpRequired,
            $"Prove a second factor with POST /auth/step-up (aal2 within {seconds} s), then retry.",
            new Dictionary<string, object?> { ["acr_values"] = SessionAssurance.Aal2, ["max_age"] = seconds });
    }
}
