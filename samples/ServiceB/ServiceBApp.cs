using Microsoft.AspNetCore.Authentication.JwtBearer;
using SessionGate.Downstream;

namespace SessionGate.ServiceB;

/// <summary>
/// Service B: called by service A as the user, with a token A got from SessionGate's token exchange. It verifies it
/// exactly as A does (<see cref="InternalJwtBearer"/>), for its own audience (<c>service-b</c> by default), and sees
/// who is calling on whose behalf in <c>act</c>.
/// </summary>
public static class ServiceBApp
{
    public static WebApplication Build(string[] args, Action<JwtBearerOptions>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddInternalJwtBearer(builder.Configuration, "service-b", configure);
        builder.Services.AddAuthorization();

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.Use(AuditTrail.LogAsync("b"));

        app.MapGet("/ping", () => TypedResults.Text("pong"));
        app.MapGet("/secure-ping", () => TypedResults.Text("pong")).RequireAuthorization();
        app.MapGet("/claims", (HttpContext http) => TypedResults.Ok(DownstreamApp.Echo(http))).RequireAuthorization();
        return app;
    }
}

public static class ServiceBProgram
{
    public static void Main(string[] args) => ServiceBApp.Build(args).Run();
}
