using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;
using SessionGate.Sessions;

using SessionGate.Infrastructure;
namespace SessionGate.Auth;

/// <summary>
/// The built-in limiter, per instance:
/// <list type="bullet">
/// <item>every request: per client address (<see cref="RateLimitOptions.PerAddressPerSecond"/>), then, when signed in,
/// per session (<see cref="RateLimitOptions.PerSessionPerSecond"/>) and per session for state changes; a request over
/// a rate waits its turn in a short queue, so a flooding client is slowed, not served at the others' expense;</item>
/// <item>the anonymous /auth endpoints (<see cref="AuthPolicy"/>): a per-address backstop per minute.</item>
/// </list>
/// Failed logins are counted per account, device and network in Redis by the login itself, so those limits hold
/// across every instance.
/// </summary>
public static class RateLimits
{
    public const string AuthPolicy = "auth";

    internal static IServiceCollection AddSessionGateRateLimits(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>().BindConfiguration("RateLimits")
            .Validate(o => o.PerSessionPerSecond >= 0 && o.StateChangesPerSessionPerSecond >= 0 && o.PerAddressPerSecond >= 0 && o.QueueLimit >= 0
                    && o.PerSessionBurst >= o.PerSessionPerSecond && o.StateChangesPerSessionBurst >= o.StateChangesPerSessionPerSecond
                    && o.PerAddressBurst >= o.PerAddressPerSecond,
                "RateLimits values must be 0 (off) or positive, and each burst at least its rate.")
            .ValidateOnStart();
        return services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (ctx, ct) =>
            {
                var retry = ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                ctx.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, retry.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
                var login = ctx.HttpContext.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.RateLimiting.EnableRateLimitingAttribute>() is not null;
                await Problems.WriteAsync(ctx.HttpContext, 429, login ? Problems.TooManyAttempts : Problems.TooManyRequests);
            };
            o.AddPolicy(AuthPolicy, http =>
            {
                var limit = http.RequestServices.GetRequiredService<IOptions<LoginLimitOptions>>().Value.RequestsPerMinutePerIp;
                return RateLimitPartition.GetFixedWindowLimiter(ClientAddress.LimitKey(http),
                    _ => new FixedWindowRateLimiterOptions { PermitLimit = limit, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 });
            });
            o.GlobalLimiter = PartitionedRateLimiter.CreateChained(
                PartitionedRateLimiter.Create<HttpContext, string>(http =>
                {
                    var limits = Options(http);
                    return limits.PerAddressPerSecond == 0 ? RateLimitPartition.GetNoLimiter("")
                        : Bucket("a:" + ClientAddress.LimitKey(http), limits.PerAddressPerSecond, limits.PerAddressBurst, limits.QueueLimit);
                }),
                PartitionedRateLimiter.Create<HttpContext, string>(http =>
                {
                    var limits = Options(http);
                    return limits.PerSessionPerSecond == 0 || Session(http) is not { } sid ? RateLimitPartition.GetNoLimiter("")
                        : Bucket("s:" + sid, limits.PerSessionPerSecond, limits.PerSessionBurst, limits.QueueLimit);
                }),
                PartitionedRateLimiter.Create<HttpContext, string>(http =>
                {
                    var limits = Options(http);
                    return limits.StateChangesPerSessionPerSecond == 0 || !ChangesState(http) || Session(http) is not { } sid
                        ? RateLimitPartition.GetNoLimiter("")
                        : Bucket("w:" + sid, limits.StateChangesPerSessionPerSecond, limits.StateChangesPerSessionBurst, limits.QueueLimit);
                }));
        });
    }

    private static RateLimitOptions Options(HttpContext http) => http.RequestServices.GetRequiredService<IOptions<RateLimitOptions>>().Value;

    private static string? Session(HttpContext http) =>
        http.User.Identity?.IsAuthenticated == true ? http.User.FindFirst(SessionClaims.SessionId)?.Value : null;

    private static bool ChangesState(HttpContext http) =>
        HttpMethods.IsPost(http.Request.Method) || HttpMethods.IsPut(http.Request.Method)
        || HttpMethods.IsPatch(http.Request.Method) || HttpMethods.IsDelete(http.Request.Method);

    private static RateLimitPartition<string> Bucket(string key, int perSecond, int burst, int queue) =>
        RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = queue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
}
