using System.Net;
using System.Text.Json;
using SessionGate.Infrastructure;

namespace SessionGate.Tests.Infrastructure;

/// <summary>Health and docs: mode-independent, so one mode is enough.</summary>
public sealed class PlatformTests(AppFixture<Opaque> fx) : IClassFixture<AppFixture<Opaque>>
{
    [Fact]
    public async Task Health_endpoints_answer_and_only_to_get()
    {
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.Management.GetAsync("/health/ready")).StatusCode);
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, "/health/live"), HttpStatusCode.MethodNotAllowed, Problems.MethodNotAllowed);
    }

    [Fact]
    public async Task Swagger_offers_the_bearer_scheme_and_shows_every_admin_endpoints_permission()
    {
        var doc = await fx.Api.GetJsonAsync("/swagger/v1/swagger.json", null);
        var schemes = doc.GetProperty("components").GetProperty("securitySchemes");
        Assert.Equal("bearer", schemes.GetProperty("bearer").GetProperty("scheme").GetString());
        // The session cookie needs no scheme: the browser sends it after a login from the page (DocsTests, SwaggerBrowserTests).
        Assert.False(schemes.TryGetProperty("cookie", out _));

        var adminOperations = doc.GetProperty("paths").EnumerateObject()
            .Where(p => p.Name.StartsWith("/admin", StringComparison.Ordinal))
            .SelectMany(p => p.Value.EnumerateObject().Select(o => (Route: $"{o.Name.ToUpperInvariant()} {p.Name}", Op: o.Value)))
            .ToList();
        Assert.True(adminOperations.Count >= 20, $"only {adminOperations.Count} admin operations documented");
        Assert.All(adminOperations, o =>
        {
            var description = o.Op.TryGetProperty("description", out var d) ? d.GetString() : null;
            Assert.True(description?.Contains("Requires permission: `", StringComparison.Ordinal) == true, $"{o.Route} does not name its permission");
        });
        var swaggerUi = await fx.Api.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, swaggerUi.StatusCode);
    }
}
