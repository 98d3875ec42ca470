using System.Globalization;

namespace SessionGate.Infrastructure;

/// <summary>The <c>Retry-After</c> header for a wait the app computed: whole seconds, rounded up, at least 1.</summary>
public static class RetryAfter
{
    public static void SetRetryAfter(this HttpResponse response, TimeSpan wait) =>
        response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(1, wait.TotalSeconds))).ToString(CultureInfo.InvariantCulture);
}
