using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.OpenApi;
using SessionGate.Sessions;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace SessionGate.Hosting;

public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        var getOnly = new HttpMethodMetadata([HttpMethods.Get, HttpMethods.Head]);
        // Liveness runs no check at all, so it needs no health-check machinery (a scope, a report, a chunked body):
        // measured, that machinery was most of what an anonymous request cost here.
        app.MapMethods("/health/live", [HttpMethods.Get, HttpMethods.Head], () => TypedResults.Text("Healthy"))
            .AllowAnonymous().WithTags("Health").WithName("Live").WithSummary("200 while the process runs. Served on the public and the management listener.")
            .WithMetadata(ManagementEndpoint.Both);
        // It names the mode and the dependencies: for the operator only, on the management listener (Management:Urls).
        app.MapHealthChecks("/health/ready", new() { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteReadinessAsync })
            .WithMetadata(getOnly, ManagementEndpoint.Only).WithOpenApiOperation(ReadyOperation);
        return app;
    }

    /// <summary>
    /// Ready: 200 with the running mode and each check (status Degraded while Redis has not proven it holds every
    /// change: still serving, PostgreSQL deciding the users concerned). Not ready: 503 problem+json naming what is down.
    /// </summary>
    private static Task WriteReadinessAsync(HttpContext http, HealthReport report)
    {
        var checks = report.Entries.ToDictionary(e => e.Key, e => e.Value.Status.ToString());
        if (report.Status != HealthStatus.Unhealthy)
        {
            var mode = http.RequestServices.GetRequiredService<IOptions<AuthOptions>>().Value.Mode.ToString();
            return http.Response.WriteAsJsonAsync(new { status = report.Status.ToString(), mode, checks });
        }
        http.Response.Headers.RetryAfter = DependencyHealth.RetryAfterSeconds;
        var down = string.Join(", ", report.Entries.Where(e => e.Value.Status != HealthStatus.Healthy).Select(e => e.Key));
        return Problems.WriteAsync(http, StatusCodes.Status503ServiceUnavailable, Problems.ServiceUnavailable,
            $"Not ready: {down} does not answer.", new Dictionary<string, object?> { ["checks"] = checks });
    }

    /// <summary>Readiness in the document: a health check is no route handler, so it says what it answers here.</summary>
    private static OpenApiOperation ReadyOperation(OpenApiDocument doc, DocumentFilterContext context)
    {
        var problem = context.SchemaGenerator.GenerateSchema(typeof(ProblemDetails), context.SchemaRepository);
        return OpenApiDocs.ManagementOperation(doc, "Health", "Ready",
            "200 with the mode and each check while PostgreSQL and Redis answer; otherwise 503 naming what is down.", new OpenApiResponses
            {
                ["200"] = new OpenApiResponse
                {
                    Description = "Ready.",
                    Content = new Dictionary<string, IOpenApiMediaType>
                    {
                        ["application/json"] = new OpenApiMediaType
                        {
                            Example = new JsonObject
                            {
                                ["status"] = "Healthy",
                                ["mode"] = "Opaque",
                                ["checks"] = new JsonObject { ["postgres"] = "Healthy", ["redis"] = "Healthy" },
                            },
                        },
                    },
                },
                ["503"] = new OpenApiResponse
                {
                    Description = $"Service Unavailable:\n\n- [`{Problems.ServiceUnavailable}`]({Problems.TypeUri(Problems.ServiceUnavailable)}): PostgreSQL or Redis does not answer; `checks` says which.",
                    Content = new Dictionary<string, IOpenApiMediaType>
                    {
                        ["application/problem+json"] = new OpenApiMediaType
                        {
                            Schema = problem,
                            // Named by problem type, as every other operation's error examples are.
                            Examples = new Dictionary<string, IOpenApiExample>
                            {
                                [Problems.ServiceUnavailable] = new OpenApiExample
                                {
                                    Summary = Problems.ServiceUnavailable,
                                    Value = new JsonObject
                                    {
                                        ["type"] = Problems.TypeUri(Problems.ServiceUnavailable),
                                        ["title"] = Problems.TitleOf(Problems.ServiceUnavailable),
                                        ["status"] = 503,
                                        ["detail"] = "Not ready: redis does not answer.",
                                        ["checks"] = new JsonObject { ["postgres"] = "Healthy", ["redis"] = "Unhealthy" },
                                    },
                                },
                            },
                        },
                    },
                },
            });
    }
}
