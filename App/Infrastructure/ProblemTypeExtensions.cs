namespace SessionGate.Infrastructure;

public static class ProblemTypeExtensions
{
    /// <summary>
    /// Declares that the endpoint (or every endpoint of a group) answers <paramref name="status"/> with these problem
    /// types: a problem+json response for OpenAPI, and the type names that Swagger and the /errors pages list. Errors
    /// that authentication, permissions, the JSON body and rate limiting bring are added from their own metadata
    /// (see <see cref="ErrorCatalog.For(string?, IReadOnlyList{object})"/>), so they are not declared here.
    /// </summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, int status, params string[] names)
        where TBuilder : IEndpointConventionBuilder
    {
        foreach (var name in names)
        {
            if (ErrorCatalog.Find(name) is null) throw new ArgumentException($"Unknown problem type '{name}': add it to ErrorCatalog.", nameof(names));
        }
        return builder.WithMetadata(
            new ProducesResponseTypeMetadata(status, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]),
            new ProblemTypesMetadata(status, names));
    }
}
