using Microsoft.OpenApi;

namespace SessionGate.Infrastructure;

/// <summary>
/// Swagger UI for a newcomer: the Auth group first, a lock only on the operations that need a credential, each
/// operation's real errors (with their problem types, linked to /errors/{name}), described parameters, enum values,
/// and request examples that work when executed.
/// </summary>
/// <remarks>
/// One security scheme, <c>bearer</c>, because it is the one the Authorize dialog can really fill in. The session
/// cookie is no scheme of its own: the dialog could only offer a box that does nothing (a page may not set a Cookie
/// header, and the cookie is HttpOnly). It still works from the page: after POST /auth/login in Opaque mode the
/// browser holds the cookie and sends it with every request, because <c>withCredentials</c> is on.
/// </remarks>
public static class Swagger
{
    /// <summary>The order of the groups in Swagger UI; a group not named here comes after them.</summary>
    internal static readonly (string Name, string Description)[] Tags =
    [
        ("Auth", "Start here. Log in and out, who you are, your own sessions and your password."),
        ("Sample API", "What a service hosted inside SessionGate looks like: any caller, and a caller with a permission."),
        ("Admin: users", "Users of your tenant. Every /admin operation acts in your own tenant; a platform admin may name another with ?tenant=<slug>."),
        ("Admin: roles", "Roles and the permissions they carry. Changes apply on each holder's next request."),
        ("Admin: sessions", "Who is online, and kicking sessions."),
        ("Admin: tenants", "Tenants (platform admin) and each tenant's login policy."),
        ("Admin: audit", "The tenant's security events."),
        ("Admin: keys", "Signing keys (platform admin)."),
        ("Keys", "The public keys that verify SessionGate's tokens, for the JWT modes and for downstream services."),
        ("Health", "Liveness and readiness, for orchestrators and load balancers."),
        ("Metrics", "Prometheus metrics."),
        ("Errors", "What each problem type means and what to do. Every error's type links to one of these pages."),
    ];

    private static bool IsEnabled(WebApplication app) =>
        app.Configuration.GetValue<bool?>("Swagger:Enabled") ?? !app.Environment.IsProduction();

    /// <summary>
    /// The documentation endpoints: a page per problem type at GET /errors/{name} (every <c>type</c> resolves), and
    /// GET / redirecting to Swagger UI when it is enabled.
    /// </summary>
    public static IEndpointRouteBuilder MapSessionGateDocs(this WebApplication app)
    {
        app.MapErrorPages();
        if (IsEnabled(app))
        {
            app.MapGet("/", (HttpContext http) => TypedResults.Redirect($"{http.Request.PathBase}/swagger"))
                .AllowAnonymous().ExcludeFromDescription();
        }
        return app;
    }

    /// <summary>
    /// Serves the document and the UI under /swagger only (other requests skip both), and only when
    /// <c>Swagger:Enabled</c> is true (the default outside Production; scripts/run turns it on).
    /// </summary>
    public static IApplicationBuilder UseSessionGateSwagger(this WebApplication app)
    {
        if (!IsEnabled(app)) return app;
        return app.UseWhen(http => http.Request.Path.StartsWithSegments("/swagger"), swagger =>
        {
            swagger.UseSwagger();
            swagger.UseSwaggerUI(o =>
            {
                o.DocumentTitle = "SessionGate v1";
                // The picker's name; left to itself it says the assembly's ("App v1").
                o.SwaggerEndpoint("v1/swagger.json", "SessionGate v1");
                // The browser sends the session cookie (Opaque mode) with every request the page makes.
                o.ConfigObject.AdditionalItems["withCredentials"] = true;
                o.DisplayRequestDuration();
            });
        });
    }

    public static IServiceCollection AddSessionGateSwagger(this IServiceCollection services) =>
        services.AddEndpointsApiExplorer().AddSwaggerGen(o =>
        {
            o.SwaggerDoc("v1", new OpenApiInfo
            {
                Title = "SessionGate",
                Version = "v1",
                Description = """
                    Sessions and tokens for your services. How to try it from this page:

                    1. **POST /auth/login** → *Try it out* → *Execute*. When the demo data is seeded (scripts/run does), the example logs in as `bob` of tenant `acme`.
                    2. **Opaque mode** (the default): the login sets the session cookie (`__Host-sid`). It is HttpOnly, so you never see it, and your browser sends it with every request from this page: nothing to paste. It is also Secure, which a browser honours over plain HTTP on `localhost` and `127.0.0.1` only: on another host name or address, use HTTPS (or paste the session_id). Or paste `session_id` into **Authorize → bearer**. **JWT modes** (Blacklist, SessionCache): copy `access_token` into **Authorize → bearer**.
                    3. **GET /auth/me** says who you are; **POST /auth/logout** ends the session, and GET /auth/me then answers 401.

                    Operations with a lock need a credential; the others are public. Every error is `application/problem+json`, and its `type` links to a page that says what it means and what to do: [all errors](/errors).
                    """,
            });
            o.AddSecurityDefinition("bearer", new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "Opaque mode: the session_id from POST /auth/login. Blacklist and SessionCache modes: the access_token. "
                    + "(In Opaque mode the session cookie works too: after logging in from this page your browser sends it by itself; "
                    + "other clients may send `Cookie: __Host-sid=<session_id>`.)",
            });
            var rank = Tags.Select((t, i) => (t.Name, i)).ToDictionary(t => t.Name, t => t.i);
            // Groups in the order above; within a group, the order the endpoints are mapped in (OrderBy is stable).
            o.OrderActionsBy(api => $"{rank.GetValueOrDefault(api.ActionDescriptor.EndpointMetadata.OfType<Microsoft.AspNetCore.Http.Metadata.ITagsMetadata>().SelectMany(t => t.Tags).FirstOrDefault() ?? "", Tags.Length):D2}");
            o.OperationAsyncFilter<OperationDocs>();
            o.SchemaFilter<SchemaDocs>();
            o.UseInlineDefinitionsForEnums();
            o.DocumentFilter<DocumentDocs>();
            var xml = Path.ChangeExtension(typeof(Swagger).Assembly.Location, ".xml");
            if (File.Exists(xml)) o.IncludeXmlComments(xml);
        });
}
