using SessionGate;
using SessionGate.Account;
using SessionGate.Admin;
using SessionGate.AdminConsole;
using SessionGate.Auth;
using SessionGate.ForwardAuth;
using SessionGate.Gateway;
using SessionGate.Hosting;
using SessionGate.Mfa;
using SessionGate.Observability;
using SessionGate.Sample;
using SessionGate.TokenExchange;
using SessionGate.Tokens;

var builder = WebApplication.CreateBuilder(args);
builder.AddSessionGateConfiguration();
builder.AddManagementListener();      // Management:Urls: a second listener, the only one serving /metrics and /health/ready
builder.Services.AddSessionGate(builder.Configuration);

var app = builder.Build();
if (Commands.Requested(args))         // `dotnet App.dll migrate audit-retention ...`: one-off jobs instead of the server
{
    Environment.ExitCode = await app.RunCommandsAsync(args);
    return;
}

// The request pipeline, in order. Authentication runs before rate limiting, so it must stay cheap for anonymous
// and forged credentials (it is: no credential costs nothing, a forged one fails its MAC or signature without I/O).
app.UseForwardAuth();                 // /auth/verify: trusted edges only (others 404), judged on the original request
app.UseTrustedForwardedHeaders();     // the client's address and scheme, from trusted proxies only
if (!app.Environment.IsDevelopment()) app.UseHsts(); // HTTPS responses only
app.UseSessionGateRequestLogging();   // one line per request with the status the client got; successes at Debug
app.UseExceptionHandler();            // any exception: problem+json, 503 for a dependency outage
app.UseStatusCodePages();             // bare status codes: problem+json
app.UseManagementListener();          // management endpoints only on the management listener, and nothing else there
app.UseRequestHygiene();              // NUL input: 400; big bodies: 413; nosniff, no framing; credential paths: no-store
app.UseSessionGateCors();             // Cors:AllowedOrigins only, on /auth/* and /api/*: preflights answered here, before authentication
app.UseSessionGateSwagger();          // /swagger only, and only when enabled
app.UseSessionAuthentication();       // only requests that carry a credential pay for the scheme's handler
app.UseRateLimiter();
app.UseAuthorization();
app.UseMfaEnrollmentGate();           // a session that must enrol a second factor first: only /auth/* until it has

app.MapHealth();
app.MapMetrics();
app.MapSessionGateDocs();
app.MapJwksApi();
app.MapAuthApi();
app.MapMfa();
app.MapAccountPages();
app.MapConsole();
app.MapSampleApi();
app.MapAdminApi();
app.MapGateway();
app.MapForwardAuthApi();
app.MapTokenExchangeApi();
app.MapServiceClientsApi();

await app.InitializeAsync();
app.ReportListeners();                // once listening: one line with the URLs; a warning when a port moved or the cookie cannot work
app.Run();

/// <summary>The entry point; public so WebApplicationFactory can host it.</summary>
public partial class Program;
