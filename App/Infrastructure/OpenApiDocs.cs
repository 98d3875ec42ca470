using System.Reflection;
using System.Text.Json.Serialization;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace SessionGate.Infrastructure;

/// <summary>On an endpoint: the request body Swagger UI's Try it out starts from (see <see cref="OpenApiDocs"/>).</summary>
public sealed record RequestExample(Func<IServiceProvider, object> Build);

/// <summary>On an endpoint: the <c>detail</c> its answer of problem type <see cref="Problem"/> shows in the document.</summary>
public sealed record ProblemExample(string Problem, string Detail);

/// <summary>On a group: what a route value means when a filter reads it rather than a handler parameter.</summary>
public sealed record RouteValueDescription(string Name, string Description);

/// <summary>
/// On an endpoint ApiExplorer does not describe (a health check, the metrics scrape): its GET operation, built
/// when the document is.
/// </summary>
public sealed record DocumentedOperation(Func<OpenApiDocument, DocumentFilterContext, OpenApiOperation> Build);

/// <summary>
/// Docs that live on the endpoint they describe, next to its <c>.WithSummary()</c>: request examples that work
/// when executed, problem details as the endpoint answers them, and route values read by group filters.
/// </summary>
public static class OpenApiDocs
{
    /// <summary>The examples' JSON: the wire's snake_case names.</summary>
    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>Said of every endpoint served on the management listener only.</summary>
    public const string ManagementNote = "Served on the management listener only (`Management:Urls`, default `http://127.0.0.1:9464`, loopback); " +
        "this page's listener answers 404 while that one is separate.";

    /// <summary>The operation of an endpoint served on the management listener, which is no route handler.</summary>
    public static OpenApiOperation ManagementOperation(OpenApiDocument doc, string tag, string id, string summary, OpenApiResponses responses) => new()
    {
        Tags = new HashSet<OpenApiTagReference> { new(tag, doc) },
        OperationId = id,
        Summary = summary,
        Description = ManagementNote,
        Responses = responses,
    };

    public static TBuilder WithOpenApiOperation<TBuilder>(this TBuilder builder, Func<OpenApiDocument, DocumentFilterContext, OpenApiOperation> build)
        where TBuilder : IEndpointConventionBuilder => builder.WithMetadata(new DocumentedOperation(build));

    public static TBuilder WithRequestExample<TBuilder>(this TBuilder builder, object example) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestExample(_ => example));

    /// <summary>An example made when the document is, from the app's services (the demo password, today's date).</summary>
    public static TBuilder WithRequestExample<TBuilder>(this TBuilder builder, Func<IServiceProvider, object> example) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequestExample(example));

    public static TBuilder WithProblemExample<TBuilder>(this TBuilder builder, string problem, string detail) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ProblemExample(problem, detail));

    public static TBuilder WithRouteValueDescription<TBuilder>(this TBuilder builder, string name, string description) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RouteValueDescription(name, description));
}

/// <summary>
/// The closed set of values a string property or parameter takes, for the document: an enum's names, the public
/// string constants of a class, or the strings a static field of it lists. The handler still checks the value, so an
/// unknown one keeps its own 400.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
public sealed class OneOfAttribute : Attribute
{
    public OneOfAttribute(Type source) => Values = source.IsEnum ? EnumNames(source) : Constants(source);

    public OneOfAttribute(Type source, string field) =>
        Values = (string[])(source.GetField(field, BindingFlags.Public | BindingFlags.Static)?.GetValue(null)
            ?? source.GetProperty(field, BindingFlags.Public | BindingFlags.Static)?.GetValue(null)
            ?? throw new ArgumentException($"{source.Name}.{field} is no static string[]."));

    public IReadOnlyList<string> Values { get; }

    /// <summary>As JsonStringEnumConverter writes them: the member's name, or its <see cref="JsonStringEnumMemberNameAttribute"/>.</summary>
    internal static string[] EnumNames(Type type) =>
        [.. type.GetFields(BindingFlags.Public | BindingFlags.Static)
            .Select(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? f.Name)];

    private static string[] Constants(Type type) =>
        [.. type.GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral && f.FieldType == typeof(string))
            .Select(f => (string)f.GetRawConstantValue()!).Order(StringComparer.Ordinal)];
}
