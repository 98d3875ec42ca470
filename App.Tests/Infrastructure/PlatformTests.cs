using System.Net;
using Microsoft.OpenApi;
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
        // Read by the OpenAPI library Swashbuckle writes it with: the document as any client generator sees it.
        var response = await fx.Api.GetAsync("/swagger/v1/swagger.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (doc, diagnostic) = OpenApiDocument.Parse(await response.Content.ReadAsStringAsync(), "json");
        Assert.True(doc is not null && diagnostic?.Errors.Count is null or 0,
            $"not a readable OpenAPI document: {string.Join("; ", diagnostic?.Errors.Select(e => e.Message) ?? [])}");
        var schemes = doc.Components!.SecuritySchemes!;
        Assert.Equal("bearer", schemes["bearer"].Scheme);
        // The session cookie needs no scheme: the browser sends it after a login from the page (DocsTests, SwaggerBrowserTests).
        Assert.False(schemes.ContainsKey("cookie"));

        var adminOperations = doc.Paths
            .Where(p => p.Key.StartsWith("/admin", StringComparison.Ordinal))
            .SelectMany(p => p.Value.Operations!.Select(o => (Route: $"{o.Key.ToString().ToUpperInvariant()} {p.Key}", Op: o.Value)))
            .ToList();
        Assert.True(adminOperations.Count >= 20, $"only {adminOperations.Count} admin operations documented");
        Assert.All(adminOperations, o =>
            Assert.True(o.Op.Description?.Contains("Requires permission: `", StringComparison.Ordinal) == true, $"{o.Route} does not name its permission"));
        var swaggerUi = await fx.Api.GetAsync("/swagger/index.html");
        Assert.Equal(HttpStatusCode.OK, swaggerUi.StatusCode);
    }
}
