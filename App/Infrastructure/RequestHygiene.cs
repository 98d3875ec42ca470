using Microsoft.AspNetCore.Http.Features;

namespace SessionGate.Infrastructure;

/// <summary>
/// What every request and response gets, before any endpoint runs:
/// <list type="bullet">
/// <item>NUL characters in the path or a query value (which PostgreSQL cannot store) are refused with 400;</item>
/// <item>a body over <see cref="RequestLimitOptions.MaxRequestBodySize"/> gets 413 (gateway routes stream theirs);</item>
/// <item>responses say nosniff and may not be framed; those under /auth, /admin and /api are never cached.</item>
/// </list>
/// </summary>
public sealed class RequestHygiene(RequestDelegate next, IOptions<RequestLimitOptions> limits)
{
    private readonly long _maxBody = limits.Value.MaxRequestBodySize;

    public Task InvokeAsync(HttpContext http)
    {
        var request = http.Request;
        var headers = http.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers.ContentSecurityPolicy = "frame-ancestors 'none'";
        if (request.Path.Value is { } path && path.Contains('\0'))
            return Problems.WriteAsync(http, StatusCodes.Status400BadRequest, Problems.Validation, "The path may not contain NUL characters.");
        if (request.QueryString.HasValue)
        {
            foreach (var (_, values) in request.Query)
            {
                foreach (var value in values)
                {
                    if (value is not null && value.Contains('\0'))
                        return Problems.WriteAsync(http, StatusCodes.Status400BadRequest, Problems.Validation, "Query values may not contain NUL characters.");
                }
            }
        }
        if ((request.Path.StartsWithSegments("/auth") || request.Path.StartsWithSegments("/admin") || request.Path.StartsWithSegments("/api")))
        {
            headers.CacheControl = "no-store";
            headers.Pragma = "no-cache";
        }
        if (http.GetEndpoint()?.Metadata.GetMetadata<Yarp.ReverseProxy.Model.RouteModel>() is null)
        {
            if (request.ContentLength > _maxBody)
                return Problems.WriteAsync(http, StatusCodes.Status413PayloadTooLarge, Problems.RequestTooLarge, $"The body may be at most {_maxBody} bytes.");
            // A body without a length (chunked) is cut off at the limit while it is read.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size) size.MaxRequestBodySize = _maxBody;
        }
        return next(http);
    }
}
