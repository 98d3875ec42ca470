using SessionGate.Admin;
using SessionGate.Auth;
using SessionGate.Gateway;
using SessionGate.Infrastructure;
using SessionGate.Sample;
using SessionGate.Tokens;

var builder = WebApplication.CreateBuilder(args);
builder.AddSessionGateConfiguration();
builder.Services.AddSessionGate(builder.Configuration);

var app = builder.Build();
app.UseSessionGate();
app.MapSessionGateHealth();
app.MapJwksApi();
app.MapAuthApi();
app.MapSampleApi();
app.MapAdminApi();
app.MapGateway();

await app.InitializeAsync();
app.Run();

/// <summary>The entry point; public so WebApplicationFactory can host it.</summary>
public partial class Program;
