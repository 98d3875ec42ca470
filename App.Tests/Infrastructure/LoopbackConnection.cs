using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace SessionGate.Tests.Infrastructure;

/// <summary>
/// The in-memory test server has no socket, so no remote address: give every request the loopback address a local
/// client would have. With <c>ForwardedHeaders:Enabled</c>, a test then picks its client address with
/// X-Forwarded-For, exactly as a trusted local proxy would set it.
/// </summary>
public sealed class LoopbackConnection : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) =>
        {
            context.Connection.RemoteIpAddress ??= IPAddress.Loopback;
            return nextMiddleware(context);
        });
        next(app);
    };
}
