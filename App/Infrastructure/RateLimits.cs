using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using SessionGate.Auth;

namespace SessionGate.Infrastructure;

/// <summary>
/// An in-process per-IP backstop on /auth (the built-in limiter). Failed logins are counted per account and
/// per IP in Redis by the login itself, so those limits hold across every instance.
/// </summary>
public static class RateLimits
{
    public const string AuthPolicy = "auth";

    public static IServiceCollection AddSessionGateRateLimits(this IServiceCollection services) =>
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (ctx, ct) =>
            {
                if (ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
                    ctx.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString();
                await Problems.WriteAsync(ctx.HttpContext, 429, Problems.TooManyAttempts);
            };
            o.AddPolicy(AuthPolicy, http =>
            {
                var limit = http.RequestServices.GetRequiredService<IOptions<LoginLimitOptions>>().Value.RequestsPerMinutePerIp;
                return RateLimitPartition.GetFixedWindowLimiter(ClientAddress.LimitKey(http),
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = limit, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });
            });
        });
}
