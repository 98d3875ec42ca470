using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using SessionGate.Sessions;

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
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (ctx, ct) =>
            {
                var retry = ctx.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                ctx.HttpContext.Response.SetRetryAfter(retry);
                var login = ctx.HttpContext.GetEndpoint()?.Metadata.GetMetadata<Microsoft.AspNetCore.RateLimiting.EnableRateLimitingAttribute>() is not null;
                await Problems.WriteAsync(ctx.HttpContext, 429, login ? Problems.TooManyAttempts : Problems.TooManyRequests);
            };
        });
        // Built once from the options, not per request: the partition callbacks run on every request, and each used to
        // resolve the options from the request's services (which opened a DI scope for an anonymous /health/live) and
        // allocate a key and a factory. A limit that is off is left out of the chain altogether; with all three off
        // there is no global limiter, and the middleware passes every request straight on (each limiter of the chain,
        // even one that answered "no limit", took a process-wide lock per request).
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>, IOptions<LoginLimitOptions>>((o, options, login) =>
        {
            var perMinute = login.Value.RequestsPerMinutePerIp;
            var window = new FixedWindowRateLimiterOptions { PermitLimit = perMinute, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 };
            Func<string, FixedWindowRateLimiterOptions> perAddress = _ => window;
            o.AddPolicy(AuthPolicy, http => RateLimitPartition.GetFixedWindowLimiter(ClientAddress.LimitKey(http), perAddress));
            o.GlobalLimiter = GlobalLimiter(options.Value);
        });
        return services;
    }

    private static PartitionedRateLimiter<HttpContext>? GlobalLimiter(RateLimitOptions limits)
    {
        var chain = new List<PartitionedRateLimiter<HttpContext>>(3);
        // Each limiter keeps its own partitions, so the keys need no prefix to stay apart.
        if (limits.PerAddressPerSecond > 0)
        {
            var bucket = Bucket(limits.PerAddressPerSecond, limits.PerAddressBurst, limits.QueueLimit);
            chain.Add(PartitionedRateLimiter.Create<HttpContext, string>(http => RateLimitPartition.GetTokenBucketLimiter(ClientAddress.LimitKey(http), bucket)));
        }
        if (limits.PerSessionPerSecond > 0)
        {
            var bucket = Bucket(limits.PerSessionPerSecond, limits.PerSessionBurst, limits.QueueLimit);
            chain.Add(PartitionedRateLimiter.Create<HttpContext, string>(http =>
                Session(http) is { } sid ? RateLimitPartition.GetTokenBucketLimiter(sid, bucket) : RateLimitPartition.GetNoLimiter("")));
        }
        if (limits.StateChangesPerSessionPerSecond > 0)
        {
            var bucket = Bucket(limits.StateChangesPerSessionPerSecond, limits.StateChangesPerSessionBurst, limits.QueueLimit);
            chain.Add(PartitionedRateLimiter.Create<HttpContext, string>(http =>
                ChangesState(http) && Session(http) is { } sid ? RateLimitPartition.GetTokenBucketLimiter(sid, bucket) : RateLimitPartition.GetNoLimiter("")));
        }
        return chain.Count switch
        {
            0 => null,
            1 => chain[0],
            _ => PartitionedRateLimiter.CreateChained([.. chain]),
        };
    }

    // Through the feature: HttpContext.User builds an empty principal for every anonymous request.
    private static string? Session(HttpContext http) =>
        http.Features.Get<Microsoft.AspNetCore.Http.Features.Authentication.IHttpAuthenticationFeature>()?.User is { Identity.IsAuthenticated: true } user
            ? user.FindFirst(SessionClaims.SessionId)?.Value
            : null;

    private static bool ChangesState(HttpContext http) =>
        HttpMethods.IsPost(http.Request.Method) || HttpMethods.IsPut(http.Request.Method)
        || HttpMethods.IsPatch(http.Request.Method) || HttpMethods.IsDelete(http.Request.Method);

    // One options object per limit, shared by all its partitions (the limiter only reads it when a partition is new).
    private static Func<string, TokenBucketRateLimiterOptions> Bucket(int perSecond, int burst, int queue)
    {
        var options = new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = perSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = queue,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        };
        return _ => options;
    }
}
