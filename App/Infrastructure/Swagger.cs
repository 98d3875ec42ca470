using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace SessionGate.Infrastructure;

/// <summary>Swagger UI with the bearer and the cookie scheme, so a person can log in and call protected endpoints.</summary>
public static class Swagger
{
    /// <summary>
    /// The documentation endpoints: a page per problem type at GET /errors/{name} (every <c>type</c> resolves), and
    /// GET / redirecting to Swagger UI when it is enabled.
    /// </summary>
    public static IEndpointRouteBuilder MapSessionGateDocs(this WebApplication app)
    {
        return app;
    }

    /// <summary>
    /// Serves the document and the UI under /swagger only (other requests skip both), and only when
    /// <c>Swagger:Enabled</c> is true (the default outside Production; scripts/run turns it on).
    /// </summary>
    public static IApplicationBuilder UseSessionGateSwagger(this WebApplication app)
    {
        var enabled = app.Configuration.GetValue<bool?>("Swagger:Enabled") ?? !app.Environment.IsProduction();
        if (!enabled) return app;
        return app.UseWhen(http => http.Request.Path.StartsWithSegments("/swagger"), swagger =>
        {
            swagger.UseSwagger();
            swagger.UseSwaggerUI(o => o.ConfigObject.AdditionalItems["withCredentials"] = true);
        });
    }

    public static IServiceCollection AddSessionGateSwagger(this IServiceCollection services) =>
        services.AddEndpointsApiExplorer().AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "SessionGate",
                Version = "v1",
                Description = "Log in with POST /auth/login. In Opaque mode the session cookie is set for you (or paste "
                    + "session_id under Authorize → bearer); in the JWT modes paste access_token under Authorize → bearer.",
            });
            o.AddSecurityDefinition("bearer", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "Opaque: the session_id. Blacklist and SessionCache: the access_token.",
            });
            o.AddSecurityDefinition("cookie", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Cookie,
                Name = "__Host-sid",
                Description = "The session cookie set by /auth/login in Opaque mode.",
            });
            o.AddSecurityRequirement(doc => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", doc)] = [] });
            o.AddSecurityRequirement(doc => new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("cookie", doc)] = [] });
            o.OperationFilter<PermissionDescriptionFilter>();
        });

    /// <summary>Writes each endpoint's required permission into its Swagger description.</summary>
    private sealed class PermissionDescriptionFilter : IOperationFilter
    {
        public void Apply(OpenApiOperation operation, OperationFilterContext context)
        {
            var policies = context.ApiDescription.ActionDescriptor.EndpointMetadata
                .OfType<IAuthorizeData>().Select(a => a.Policy).OfType<string>().Distinct().ToList();
            if (policies.Count == 0) return;
            var text = $"Requires permission: {string.Join(", ", policies.Select(p => $"`{p}`"))}.";
            operation.Description = string.IsNullOrEmpty(operation.Description) ? text : $"{operation.Description}\n\n{text}";
        }
    }
}
