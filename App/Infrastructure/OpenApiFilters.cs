using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Mvc;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace SessionGate.Infrastructure;

// The generic filters behind Swagger.cs: none names an endpoint or a type; what an endpoint says about itself is on
// the endpoint (OpenApiDocs), what a record says on its properties.

/// <summary>
/// What every operation shows the same way: its lock, the permissions its policies require, its real errors (from
/// <see cref="ErrorCatalog"/>), its route values, and the examples the endpoint carries (<see cref="OpenApiDocs"/>).
/// Nothing here names an endpoint: what an endpoint says about itself is on the endpoint.
/// </summary>
internal sealed class OperationDocs(IAuthorizationPolicyProvider policies, IServiceProvider services) : IOperationAsyncFilter
{
    public async Task ApplyAsync(OpenApiOperation operation, OperationFilterContext context, CancellationToken cancellationToken)
    {
        var api = context.ApiDescription;
        var metadata = api.ActionDescriptor.EndpointMetadata.ToList();
        var permissions = await PermissionsAsync(metadata);

        operation.Security = ErrorCatalog.IsProtected(metadata)
            ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("bearer", context.Document)] = [] }]
            : null;
        if (permissions.Permissions.Count > 0)
        {
            var text = $"Requires permission: {string.Join(" or ", permissions.Permissions.Select(p => $"`{p}`"))}"
                + (permissions.Tenant is { } tenant ? $", in tenant `{tenant}`." : ".");
            operation.Description = string.IsNullOrEmpty(operation.Description) ? text : $"{operation.Description}\n\n{text}";
        }

        Responses(operation, context, api.HttpMethod, metadata, permissions.Permissions);
        RouteParameters(operation, api.ActionDescriptor.AttributeRouteInfo?.Template ?? api.RelativePath ?? "", metadata);
        if (metadata.OfType<RequestExample>().LastOrDefault() is { } example
            && operation.RequestBody?.Content?.TryGetValue("application/json", out var media) == true && media is OpenApiMediaType json)
            json.Example = JsonSerializer.SerializeToNode(example.Build(services), OpenApiDocs.Json);
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
    private static void Responses(OpenApiOperation operation, OperationFilterContext context, string? method,
        IReadOnlyList<object> metadata, IReadOnlyList<string> permissions)
    {
        var problem = context.SchemaGenerator.GenerateSchema(typeof(ProblemDetails), context.SchemaRepository);
        var details = metadata.OfType<ProblemExample>().GroupBy(e => e.Problem).ToDictionary(g => g.Key, g => g.Last().Detail);
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
                            Value = ProblemBody(e, details.GetValueOrDefault(e.Name), permissions),
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

    /// <summary>A problem as the operation answers it: the endpoint's own detail when it gives one (<see cref="ProblemExample"/>).</summary>
    private static JsonObject ProblemBody(ErrorResponse error, string? detail, IReadOnlyList<string> permissions)
    {
        var body = new JsonObject { ["type"] = Problems.TypeUri(error.Name), ["title"] = Problems.TitleOf(error.Name), ["status"] = error.Status };
        switch (error.Name)
        {
            case Problems.Validation:
                body["detail"] = detail ?? "The request body or parameters could not be read.";
                break;
            case Problems.WeakPassword:
                body["detail"] = detail ?? "Use at least 12 characters.";
                break;
            case Problems.SessionRevoked:
                body["reason"] = RevokeReasons.Kicked;
                break;
            case Problems.Forbidden when permissions.Count > 0:
                body["detail"] = detail ?? (permissions.Count == 1 ? $"This needs the permission {permissions[0]}." : $"This needs one of the permissions {string.Join(", ", permissions)}.");
                body["required_permissions"] = new JsonArray([.. permissions.Select(p => (JsonNode)p)]);
                break;
            case Problems.NotSupportedInMode:
                body["detail"] = detail ?? "Opaque sessions do not use refresh tokens.";
                break;
            case Problems.RequestTooLarge:
                body["detail"] = $"The body may be at most {new RequestLimitOptions().MaxRequestBodySize} bytes.";
                break;
            default:
                if (detail is not null) body["detail"] = detail;
                break;
        }
        return body;
    }

    /// <summary>
    /// Route values that a group filter reads (the {id} of /admin/users/{id}) are no handler parameter, so
    /// ApiExplorer misses them; without them the path is invalid and Try it out cannot fill it in. The group
    /// describes them (<see cref="OpenApiDocs.WithRouteValueDescription"/>).
    /// </summary>
    private static void RouteParameters(OpenApiOperation operation, string template, IReadOnlyList<object> metadata)
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
                Description = metadata.OfType<RouteValueDescription>().LastOrDefault(d => d.Name == routeName)?.Description,
                Schema = match.Groups[2].Value == "guid"
                    ? new OpenApiSchema { Type = JsonSchemaType.String, Format = "uuid" }
                    : new OpenApiSchema { Type = JsonSchemaType.String },
            });
        }
    }
}

/// <summary>
/// The closed sets of values: a string property or parameter marked <see cref="OneOfAttribute"/>, and an enum
/// property written as a string (its <c>JsonStringEnumConverter</c>), as the schema's enum of strings.
/// </summary>
internal sealed class SchemaDocs : ISchemaFilter
{
    public void Apply(IOpenApiSchema schema, SchemaFilterContext context)
    {
        if (schema is not OpenApiSchema target) return;
        var values = (context.MemberInfo?.GetCustomAttribute<OneOfAttribute>() ?? context.ParameterInfo?.GetCustomAttribute<OneOfAttribute>())?.Values
            ?? StringEnum(context.MemberInfo as PropertyInfo);
        if (values is null) return;
        var list = (IList<JsonNode>)[.. values.Select(v => (JsonNode)v)];
        if (target.Type?.HasFlag(JsonSchemaType.Array) == true) target.Items = new OpenApiSchema { Type = JsonSchemaType.String, Enum = list };
        else
        {
            // An enum's own schema says integer: it is written as its name.
            if (target.Type?.HasFlag(JsonSchemaType.String) != true) (target.Type, target.Format) = (JsonSchemaType.String | (target.Type & JsonSchemaType.Null), null);
            target.Enum = list;
        }
    }

    private static string[]? StringEnum(PropertyInfo? property) =>
        property?.GetCustomAttribute<System.Text.Json.Serialization.JsonConverterAttribute>()?.ConverterType is { IsGenericType: true } converter
        && converter.GetGenericTypeDefinition() == typeof(System.Text.Json.Serialization.JsonStringEnumConverter<>)
            ? OneOfAttribute.EnumNames(converter.GetGenericArguments()[0])
            : null;
}

/// <summary>
/// The groups in reading order, and the endpoints that are no route handlers (readiness, metrics) as the endpoint
/// describes itself (<see cref="DocumentedOperation"/>).
/// </summary>
internal sealed class DocumentDocs(EndpointDataSource endpoints) : IDocumentFilter
{
    public void Apply(OpenApiDocument doc, DocumentFilterContext context)
    {
        doc.Paths ??= [];
        foreach (var endpoint in endpoints.Endpoints.OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<DocumentedOperation>() is not { } documented) continue;
            var path = "/" + endpoint.RoutePattern.RawText?.TrimStart('/');
            if (doc.Paths.ContainsKey(path)) continue;
            var item = new OpenApiPathItem();
            item.AddOperation(HttpMethod.Get, documented.Build(doc, context));
            doc.Paths[path] = item;
        }

        // Swagger UI shows the groups in the order of the document's tags (a HashSet keeps insertion order).
        var used = doc.Paths.Values.SelectMany(p => p.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
            .SelectMany(o => o.Tags ?? Enumerable.Empty<OpenApiTagReference>()).Select(t => t.Name).OfType<string>().ToHashSet(StringComparer.Ordinal);
        var tags = new HashSet<OpenApiTag>();
        foreach (var (name, description) in Swagger.Tags.Where(t => used.Contains(t.Name))) tags.Add(new OpenApiTag { Name = name, Description = description });
        foreach (var name in used.Where(u => Swagger.Tags.All(t => t.Name != u)).Order(StringComparer.Ordinal)) tags.Add(new OpenApiTag { Name = name });
        doc.Tags = tags;
    }
}
