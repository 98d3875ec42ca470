using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;
using SessionGate.Admin;
using SessionGate.Audit;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;
using Swashbuckle.AspNetCore.SwaggerGen;

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
    private static readonly (string Name, string Description)[] Tags =
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
            o.DocumentFilter<DocumentDocs>();
            var xml = Path.ChangeExtension(typeof(Swagger).Assembly.Location, ".xml");
            if (File.Exists(xml)) o.IncludeXmlComments(xml);
        });

    /// <summary>Security, errors, permissions, parameters and request examples of each operation.</summary>
    private sealed class OperationDocs(IAuthorizationPolicyProvider policies, IOptions<DemoOptions> demo, TimeProvider time) : IOperationAsyncFilter
    {
        public async Task ApplyAsync(OpenApiOperation operation, OperationFilterContext context, CancellationToken cancellationToken)
        {
            var api = context.ApiDescription;
            var metadata = api.ActionDescriptor.EndpointMetadata.ToList();
            var name = metadata.OfType<IEndpointNameMetadata>().FirstOrDefault()?.EndpointName;
            var permissions = await PermissionsAsync(metadata);

            if (ErrorCatalog.IsProtected(metadata))
            {
                operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", context.Document)] = [] }];
            }
            else
            {
                operation.Security = null;
            }
            if (permissions.Permissions.Count > 0)
            {
                var text = $"Requires permission: {string.Join(" or ", permissions.Permissions.Select(p => $"`{p}`"))}"
                    + (permissions.Tenant is { } tenant ? $", in tenant `{tenant}`." : ".");
                operation.Description = string.IsNullOrEmpty(operation.Description) ? text : $"{operation.Description}\n\n{text}";
            }

            Responses(operation, context, name, api.HttpMethod, metadata, permissions.Permissions);
            RouteParameters(operation, api.ActionDescriptor.AttributeRouteInfo?.Template ?? api.RelativePath ?? "");
            Parameters(operation, name, api.RelativePath ?? "");
            if (RequestExample(name) is { } example
                && operation.RequestBody?.Content?.TryGetValue("application/json", out var media) == true && media is OpenApiMediaType json)
                json.Example = example;
        }

        /// <summary>The permissions (any one will do) and the tenant the endpoint's policies require.</summary>
        private async Task<(IReadOnlyList<string> Permissions, string? Tenant)> PermissionsAsync(IReadOnlyList<object> metadata)
        {
            var permissions = new List<string>();
            string? tenant = null;
            foreach (var policyName in ErrorCatalog.Policies(metadata))
            {
                if (await policies.GetPolicyAsync(policyName) is not { } policy) continue;
                foreach (var claim in policy.Requirements.OfType<ClaimsAuthorizationRequirement>())
                {
                    if (claim.ClaimType == SessionClaims.Permission) permissions.AddRange(claim.AllowedValues ?? []);
                    else if (claim.ClaimType == SessionClaims.Tenant) tenant = claim.AllowedValues?.FirstOrDefault();
                }
            }
            return (permissions.Distinct().ToList(), tenant);
        }

        /// <summary>Replaces the generic problem responses with the operation's real errors, one response per status.</summary>
        private static void Responses(OpenApiOperation operation, OperationFilterContext context, string? name, string? method,
            IReadOnlyList<object> metadata, IReadOnlyList<string> permissions)
        {
            var problem = context.SchemaGenerator.GenerateSchema(typeof(ProblemDetails), context.SchemaRepository);
            var responses = new OpenApiResponses();
            foreach (var (status, response) in operation.Responses ?? [])
            {
                if (!status.StartsWith('4') && !status.StartsWith('5')) responses[status] = response;
            }
            foreach (var group in ErrorCatalog.For(method, metadata).GroupBy(e => e.Status))
            {
                var lines = group.Select(e => $"- [`{e.Name}`]({Problems.TypeUri(e.Name)}): {ErrorCatalog.Find(e.Name)?.Summary}");
                var response = new OpenApiResponse
                {
                    Description = $"{Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(group.Key)}:\n\n{string.Join("\n", lines)}",
                    Content = new Dictionary<string, IOpenApiMediaType>
                    {
                        ["application/problem+json"] = new OpenApiMediaType
                        {
                            Schema = problem,
                            Examples = group.ToDictionary(e => e.Name, e => (IOpenApiExample)new OpenApiExample
                            {
                                Summary = e.Name,
                                Value = ProblemExample(e, name, permissions),
                            }),
                        },
                    },
                };
                if (group.Key is 429 or 503)
                {
                    response.Headers = new Dictionary<string, IOpenApiHeader>
                    {
                        ["Retry-After"] = new OpenApiHeader
                        {
                            Description = "Seconds to wait before trying again.",
                            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer },
                        },
                    };
                }
                responses[group.Key.ToString(System.Globalization.CultureInfo.InvariantCulture)] = response;
            }
            operation.Responses = responses;
        }

        private static JsonObject ProblemExample(ErrorResponse error, string? endpoint, IReadOnlyList<string> permissions)
        {
            var body = new JsonObject { ["type"] = Problems.TypeUri(error.Name), ["title"] = Problems.TitleOf(error.Name), ["status"] = error.Status };
            switch (error.Name)
            {
                case Problems.Validation:
                    body["detail"] = endpoint switch
                    {
                        "Login" => "tenant is required.",
                        "ChangePassword" => "current_password and new_password are required.",
                        "ListUsers" or "ListSessions" or "ListOnlineUsers" or "ListAudit" => "size must be between 1 and 100.",
                        "BanUser" => "until must be in the future.",
                        "CreateRole" or "SetRolePermissions" => "Unknown permission 'users:delete'. GET /admin/permissions lists them.",
                        "SetLoginPolicy" => "policy must be Multiple, Single, PerDeviceType or MaxN.",
                        "RotateKeys" or "RevokeKey" => "HS256 uses the configured secret; rotate it in configuration.",
                        _ => "The request body or parameters could not be read.",
                    };
                    break;
                case Problems.WeakPassword:
                    body["detail"] = "Use at least 12 characters.";
                    break;
                case Problems.SessionRevoked:
                    body["reason"] = RevokeReasons.Kicked;
                    break;
                case Problems.Forbidden when permissions.Count > 0:
                    body["detail"] = permissions.Count == 1 ? $"This needs the permission {permissions[0]}." : $"This needs one of the permissions {string.Join(", ", permissions)}.";
                    body["required_permissions"] = new JsonArray([.. permissions.Select(p => (JsonNode)p)]);
                    break;
                case Problems.Conflict:
                    body["detail"] = endpoint switch
                    {
                        "CreateRole" => "A role with this name exists.",
                        "CreateTenant" => "A tenant with this slug exists.",
                        _ => "A user with this username exists.",
                    };
                    break;
                case Problems.NotSupportedInMode:
                    body["detail"] = "Opaque sessions do not use refresh tokens.";
                    break;
                case Problems.RequestTooLarge:
                    body["detail"] = $"The body may be at most {new RequestLimitOptions().MaxRequestBodySize} bytes.";
                    break;
            }
            return body;
        }

        /// <summary>
        /// Route values that a group filter reads (the {id} of /admin/users/{id}) are no handler parameter, so
        /// ApiExplorer misses them; without them the path is invalid and Try it out cannot fill it in.
        /// </summary>
        private static void RouteParameters(OpenApiOperation operation, string template)
        {
            foreach (System.Text.RegularExpressions.Match match in System.Text.RegularExpressions.Regex.Matches(template, @"\{(\w+)(?::(\w+))?\}"))
            {
                var routeName = match.Groups[1].Value;
                if (operation.Parameters?.Any(p => p.Name == routeName && p.In == ParameterLocation.Path) == true) continue;
                operation.Parameters ??= [];
                operation.Parameters.Insert(0, new OpenApiParameter
                {
                    Name = routeName,
                    In = ParameterLocation.Path,
                    Required = true,
                    Schema = match.Groups[2].Value == "guid"
                        ? new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" }
                        : new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }
        }

        private static void Parameters(OpenApiOperation operation, string? endpoint, string route)
        {
            foreach (var parameter in (operation.Parameters ?? []).OfType<OpenApiParameter>())
            {
                parameter.Description ??= (parameter.Name, endpoint) switch
                {
                    ("page", _) => "Page number, from 1 (default 1).",
                    ("size", _) => "Items per page, from 1 to 100 (default 20).",
                    ("tenant", _) => "Platform admins only: act in the tenant with this slug (404 when there is none). Ignored for everyone else, who always act in their own tenant.",
                    ("after", _) => "Keyset cursor: the `next` of the previous page. The page then starts after it, costs the same however deep it is, and `page` is ignored.",
                    ("user_id", "ListAudit") => "Only events where this user is the actor or the subject.",
                    ("user_id", _) => "Only the sessions of this user.",
                    ("type", "ListAudit") => "Only events of this type.",
                    ("id", _) when route.StartsWith("admin/users", StringComparison.Ordinal) => "The user's id (from GET /admin/users).",
                    ("id", _) when route.StartsWith("admin/sessions", StringComparison.Ordinal) => "The session's id (from GET /admin/sessions).",
                    ("id", _) => "The session's public id (from GET /auth/sessions).",
                    ("name", "ErrorPage") => "The error's name: the last segment of a problem's type, such as session-revoked.",
                    ("name", _) => "The role's name (from GET /admin/roles).",
                    ("slug", _) => "The tenant's slug, such as acme.",
                    ("kid", _) => "The key id (kid), as the JWKS lists it.",
                    _ => null,
                };
                if (parameter.Schema is not OpenApiSchema schema) continue;
                switch (parameter.Name)
                {
                    case "page":
                        schema.Minimum = "1";
                        schema.Maximum = "100000";
                        break;
                    case "size":
                        schema.Minimum = "1";
                        schema.Maximum = "100";
                        break;
                    case "type" when endpoint == "ListAudit":
                        schema.Enum = [.. AuditTypeNames.Select(t => (JsonNode)t)];
                        break;
                    case "slug":
                        parameter.Example = "acme";
                        break;
                    case "name" when endpoint == "ErrorPage":
                        schema.Enum = [.. ErrorCatalog.All.Select(e => (JsonNode)e.Name)];
                        break;
                }
            }
        }

        /// <summary>Request bodies that work when executed (or are refused without counting against anyone).</summary>
        private JsonObject? RequestExample(string? endpoint) => endpoint switch
        {
            // Never a made-up password on login: a wrong one counts as a failed attempt. With the demo data seeded,
            // the demo user; otherwise an empty password, which is refused as invalid (400) without counting.
            "Login" => new JsonObject
            {
                ["tenant"] = "acme",
                ["username"] = "bob",
                ["password"] = demo.Value is { Seed: true, Password: { Length: > 0 } password } ? password : "",
                ["device_type"] = "web",
            },
            "Refresh" => new JsonObject { ["refresh_token"] = "the refresh_token from POST /auth/login" },
            // The current password is left for you to type: a wrong one counts against your account.
            "ChangePassword" => new JsonObject { ["current_password"] = "", ["new_password"] = "a-longer-passphrase-of-yours" },
            "CreateUser" => new JsonObject { ["username"] = "carol", ["password"] = "correct-horse-battery-staple", ["roles"] = new JsonArray() },
            "PatchUser" => new JsonObject { ["username"] = "carol.smith" },
            "SetUserRoles" => new JsonObject { ["roles"] = new JsonArray("reporter") },
            // A ban must end in the future: a month from now.
            "BanUser" => new JsonObject
            {
                ["until"] = time.GetUtcNow().UtcDateTime.Date.AddDays(30).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
                ["reason"] = "Abuse reported to support.",
            },
            "CreateRole" => new JsonObject { ["name"] = "support", ["permissions"] = new JsonArray(Permissions.UsersRead, Permissions.SessionsRead) },
            "SetRolePermissions" => new JsonObject { ["permissions"] = new JsonArray(Permissions.ReportsRead) },
            "CreateTenant" => new JsonObject { ["slug"] = "globex", ["name"] = "Globex Corporation" },
            "SetLoginPolicy" => new JsonObject { ["policy"] = nameof(LoginPolicy.MaxN), ["max_sessions"] = 3, ["on_limit"] = nameof(OnSessionLimit.KickOldest) },
            _ => null,
        };
    }

    private static readonly string[] AuditTypeNames = [.. typeof(AuditTypes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.IsLiteral && f.FieldType == typeof(string)).Select(f => (string)f.GetRawConstantValue()!).Order(StringComparer.Ordinal)];

    /// <summary>Enum values and descriptions of body properties, by type and JSON name.</summary>
    private sealed class SchemaDocs : ISchemaFilter
    {
        private static readonly string[] PolicyNames = Enum.GetNames<LoginPolicy>();
        private static readonly string[] OnLimitNames = Enum.GetNames<OnSessionLimit>();

        private static readonly Dictionary<(Type, string), string[]> Enums = new()
        {
            [(typeof(LoginRequest), "device_type")] = DeviceTypes.All,
            [(typeof(MeSession), "device_type")] = DeviceTypes.All,
            [(typeof(OwnSession), "device_type")] = DeviceTypes.All,
            [(typeof(AdminSessionView), "device_type")] = DeviceTypes.All,
            [(typeof(LoginResponse), "token_type")] = ["Session", "Bearer"],
            [(typeof(LoginPolicyRequest), "policy")] = PolicyNames,
            [(typeof(LoginPolicyRequest), "on_limit")] = OnLimitNames,
            [(typeof(LoginPolicyView), "policy")] = PolicyNames,
            [(typeof(LoginPolicyView), "on_limit")] = OnLimitNames,
            [(typeof(TenantView), "login_policy")] = PolicyNames,
            [(typeof(TenantView), "on_limit")] = OnLimitNames,
            [(typeof(AuditView), "type")] = AuditTypeNames,
            [(typeof(CreateRoleRequest), "permissions")] = Permissions.All,
            [(typeof(SetPermissionsRequest), "permissions")] = Permissions.All,
            [(typeof(RoleView), "permissions")] = Permissions.All,
        };

        private static readonly Dictionary<(Type, string), string> Descriptions = new()
        {
            [(typeof(LoginRequest), "tenant")] = "The tenant's slug, such as acme.",
            [(typeof(LoginRequest), "device_type")] = "The kind of client (default web). Login policy PerDeviceType keeps one session per kind.",
            [(typeof(RefreshRequest), "refresh_token")] = "The refresh_token from the login or the last refresh. Each one is used once.",
            [(typeof(ChangePasswordRequest), "new_password")] = "At least 12 characters, at least 4 different ones, not containing the username.",
            [(typeof(CreateUserRequest), "password")] = "At least 12 characters, at least 4 different ones, not containing the username.",
            [(typeof(CreateUserRequest), "roles")] = "Names of roles of the tenant (GET /admin/roles); you may only grant permissions you hold.",
            [(typeof(PatchUserRequest), "current_password")] = "Needed only when you change your own password.",
            [(typeof(BanRequest), "until")] = "When the ban ends; must be in the future. Absent: for good.",
            [(typeof(BanRequest), "reason")] = "Why, for the audit log (at most 500 characters).",
            [(typeof(LoginPolicyRequest), "policy")] = "Multiple: any number of sessions. Single: a login ends the user's other sessions. "
                + "PerDeviceType: a login ends the user's other session of the same device_type. MaxN: at most max_sessions.",
            [(typeof(LoginPolicyRequest), "max_sessions")] = "For MaxN (required there): 1 to 1000.",
            [(typeof(LoginPolicyRequest), "on_limit")] = "For MaxN, a login over the limit: KickOldest (default) ends the oldest session, "
                + "RejectNew refuses the login with session-limit-reached.",
        };

        public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
        {
            if (schema is not OpenApiSchema { Properties: { } properties }) return;
            foreach (var (name, property) in properties)
            {
                if (property is not OpenApiSchema target) continue;
                if (Descriptions.TryGetValue((context.Type, name), out var description)) target.Description = description;
                if (Enums.TryGetValue((context.Type, name), out var values))
                {
                    var list = (IList<JsonNode>)[.. values.Select(v => (JsonNode)v)];
                    if (target.Type?.HasFlag(JsonSchemaType.Array) == true) target.Items = new OpenApiSchema { Type = JsonSchemaType.String, Enum = list };
                    else target.Enum = list;
                }
            }
            // The login's tenant and username have no defaults; the request example shows values that work.
            if (context.Type == typeof(LoginRequest))
            {
                foreach (var name in new[] { "tenant", "username" })
                {
                    if (properties.TryGetValue(name, out var p) && p is OpenApiSchema s) s.Default = null;
                }
            }
        }
    }

    /// <summary>The groups in reading order, and the anonymous endpoints that are not route handlers (readiness, metrics).</summary>
    private sealed class DocumentDocs(EndpointDataSource endpoints, IConfiguration configuration) : IDocumentFilter
    {
        private const string ManagementNote = "Served on the management listener only (`Management:Urls`, default `http://127.0.0.1:9464`, loopback); " +
            "this page's listener answers 404 while that one is separate.";

        public void Apply(OpenApiDocument doc, DocumentFilterContext context)
        {
            doc.Paths ??= [];
            var patterns = endpoints.Endpoints.OfType<RouteEndpoint>().Select(e => "/" + e.RoutePattern.RawText?.TrimStart('/')).ToHashSet(StringComparer.Ordinal);
            if (patterns.Contains("/health/ready"))
            {
                var problem = context.SchemaGenerator.GenerateSchema(typeof(ProblemDetails), context.SchemaRepository);
                AddGet(doc, "/health/ready", new OpenApiOperation
                {
                    Tags = new HashSet<OpenApiTagReference> { new("Health", doc) },
                    OperationId = "Ready",
                    Summary = "200 with the mode and each check while PostgreSQL and Redis answer; otherwise 503 naming what is down.",
                    Description = ManagementNote,
                    Responses = new OpenApiResponses
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
                    },
                });
            }
            var metrics = "/" + (configuration["Metrics:Path"] ?? "/metrics").TrimStart('/');
            if (configuration.GetValue("Metrics:Enabled", true) && patterns.Contains(metrics))
            {
                AddGet(doc, metrics, new OpenApiOperation
                {
                    Tags = new HashSet<OpenApiTagReference> { new("Metrics", doc) },
                    OperationId = "Metrics",
                    Summary = "Prometheus text exposition; every series is named sessiongate_*.",
                    Description = ManagementNote,
                    Responses = new OpenApiResponses
                    {
                        ["200"] = new OpenApiResponse
                        {
                            Description = "The metrics.",
                            Content = new Dictionary<string, IOpenApiMediaType> { ["text/plain"] = new OpenApiMediaType() },
                        },
                    },
                });
            }

            // Swagger UI shows the groups in the order of the document's tags (a HashSet keeps insertion order).
            var used = doc.Paths.Values.SelectMany(p => p.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
                .SelectMany(o => o.Tags ?? Enumerable.Empty<OpenApiTagReference>()).Select(t => t.Name).OfType<string>().ToHashSet(StringComparer.Ordinal);
            var tags = new HashSet<OpenApiTag>();
            foreach (var (name, description) in Tags.Where(t => used.Contains(t.Name))) tags.Add(new OpenApiTag { Name = name, Description = description });
            foreach (var name in used.Where(u => Tags.All(t => t.Name != u)).Order(StringComparer.Ordinal)) tags.Add(new OpenApiTag { Name = name });
            doc.Tags = tags;
        }

        private static void AddGet(OpenApiDocument doc, string path, OpenApiOperation operation)
        {
            if (doc.Paths.ContainsKey(path)) return;
            var item = new OpenApiPathItem();
            item.AddOperation(HttpMethod.Get, operation);
            doc.Paths[path] = item;
        }
    }
}
