using System.Net;
using System.Text;
using Microsoft.AspNetCore.Routing.Patterns;

namespace SessionGate.Infrastructure;

/// <summary>
/// GET /errors and GET /errors/{name}: a short page per problem type, so that every <c>type</c> the API answers with
/// resolves to what it means and what to do. HTML for people; the same entries as JSON for <c>Accept: application/json</c>.
/// Served whether or not Swagger is on, to anyone, from <see cref="ErrorCatalog"/> alone (no I/O).
/// </summary>
public static class ErrorPages
{
    public static RouteGroupBuilder MapErrorPages(this IEndpointRouteBuilder app)
    {
        var errors = app.MapGroup("/errors").WithTags("Errors").AllowAnonymous();
        errors.MapGet("/", Index).WithName("ErrorIndex").WithSummary("Every problem type of the API, each with a link to its page.")
            .Produces<string>(StatusCodes.Status200OK, "text/html").Produces<ErrorEntry[]>(StatusCodes.Status200OK, "application/json");
        errors.MapGet("/{name}", Page).WithName("ErrorPage").WithSummary("What one problem type means and what to do about it.")
            .Produces<string>(StatusCodes.Status200OK, "text/html").Produces<ErrorEntry>(StatusCodes.Status200OK, "application/json")
            .ProducesProblems(StatusCodes.Status404NotFound, Problems.NotFound);
        return errors;
    }

    /// <summary>One problem type as JSON: the catalog entry that the HTML page shows.</summary>
    public sealed record ErrorEntry(string Name, string Type, string Title, int[] Statuses, string Summary, string Meaning, string WhatToDo,
        IReadOnlyList<ErrorField> Fields, IReadOnlyList<RevokeReason>? Reasons);

    public sealed record ErrorField(string Name, string Meaning);

    public sealed record RevokeReason(string Reason, string Meaning, string WhatToDo);

    private static ErrorEntry Entry(ErrorInfo info) => new(info.Name, info.Type, info.Title, info.Statuses, info.Summary, info.Meaning, info.WhatToDo,
        [.. info.Fields.Select(f => new ErrorField(f.Name, f.Meaning))],
        info.Name == Problems.SessionRevoked ? [.. ErrorCatalog.RevokeReasonsExplained.Select(r => new RevokeReason(r.Reason, r.Meaning, r.WhatToDo))] : null);

    /// <summary>JSON when the client asks for JSON (and not for HTML first); a browser gets the page.</summary>
    private static bool WantsJson(HttpContext http)
    {
        var accept = http.Request.GetTypedHeaders().Accept;
        var json = accept.Where(a => a.MediaType.Value is { } m && (m.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                || m.EndsWith("+json", StringComparison.OrdinalIgnoreCase)))
            .Select(a => a.Quality ?? 1).DefaultIfEmpty(0).Max();
        var html = accept.Where(a => a.MediaType.Value is { } m && m.Equals("text/html", StringComparison.OrdinalIgnoreCase))
            .Select(a => a.Quality ?? 1).DefaultIfEmpty(0).Max();
        return json > 0 && json >= html;
    }

    private static IResult Index(HttpContext http)
    {
        Cacheable(http);
        if (WantsJson(http)) return TypedResults.Json(ErrorCatalog.All.Select(Entry).ToArray());
        var body = new StringBuilder();
        body.Append("<p>Every error of this API is an RFC 9457 <code>application/problem+json</code> body. Its <code>type</code> ")
            .Append("is <code>/errors/{name}</code>, relative to the API, and resolves to one of these pages.</p>\n<table>\n")
            .Append("<tr><th>type</th><th>status</th><th>meaning</th></tr>\n");
        foreach (var info in ErrorCatalog.All)
        {
            body.Append("<tr><td><a href=\"").Append(Href(http, info.Name)).Append("\"><code>").Append(Html(info.Name)).Append("</code></a></td><td>")
                .Append(string.Join(", ", info.Statuses)).Append("</td><td>").Append(Markdownish(info.Summary)).Append("</td></tr>\n");
        }
        body.Append("</table>\n");
        return Document(http, "Errors", "The problem types of SessionGate", body.ToString());
    }

    /// <summary>The names of every problem type: the values of GET /errors/{name}.</summary>
    public static readonly string[] Names = [.. ErrorCatalog.All.Select(e => e.Name)];

    private static IResult Page(
        [System.ComponentModel.Description("The error's name: the last segment of a problem's type, such as session-revoked."), OneOf(typeof(ErrorPages), nameof(Names))] string name,
        HttpContext http, EndpointDataSource endpoints)
    {
        if (ErrorCatalog.Find(name) is not { } info)
            return Problems.Result(StatusCodes.Status404NotFound, Problems.NotFound, "There is no error by that name. GET /errors lists them.");
        Cacheable(http);
        if (WantsJson(http)) return TypedResults.Json(Entry(info));

        var body = new StringBuilder();
        body.Append("<dl><dt>type</dt><dd><code>").Append(Html(info.Type)).Append("</code></dd>")
            .Append("<dt>title</dt><dd>").Append(Html(info.Title)).Append("</dd>")
            .Append("<dt>status</dt><dd>").Append(string.Join(", ", info.Statuses.Select(s => $"{s} {Html(ReasonPhrase(s))}"))).Append("</dd></dl>\n");
        body.Append("<h2>What it means</h2>\n<p>").Append(Markdownish(info.Meaning)).Append("</p>\n");
        if (info.Name == Problems.SessionRevoked)
        {
            body.Append("<h2>Reasons</h2>\n<table>\n<tr><th><code>reason</code></th><th>what happened</th><th>what to do</th></tr>\n");
            foreach (var (reason, meaning, todo) in ErrorCatalog.RevokeReasonsExplained)
                body.Append("<tr><td><code>").Append(Html(reason)).Append("</code></td><td>").Append(Markdownish(meaning))
                    .Append("</td><td>").Append(Markdownish(todo)).Append("</td></tr>\n");
            body.Append("</table>\n");
        }
        body.Append("<h2>What to do</h2>\n<p>").Append(Markdownish(info.WhatToDo)).Append("</p>\n");
        if (info.Fields.Length > 0)
        {
            body.Append("<h2>Members besides type, title and status</h2>\n<ul>\n");
            foreach (var (field, meaning) in info.Fields)
                body.Append("<li><code>").Append(Html(field)).Append("</code>: ").Append(Markdownish(meaning)).Append("</li>\n");
            body.Append("</ul>\n");
        }
        body.Append("<h2>Example</h2>\n<pre>").Append(Html(Example(info))).Append("</pre>\n");

        var operations = Operations(endpoints, info.Name);
        if (operations.Count > 0)
        {
            body.Append("<h2>Answered by</h2>\n<ul>\n");
            foreach (var (status, operation) in operations)
                body.Append("<li>").Append(status).Append(" from <code>").Append(Html(operation)).Append("</code></li>\n");
            body.Append("</ul>\n");
        }
        body.Append("<p><a href=\"").Append(Href(http, "")).Append("\">All errors</a></p>\n");
        return Document(http, info.Name, info.Title, body.ToString());
    }

    /// <summary>The routed operations that can answer this problem type, as "METHOD /route".</summary>
    private static List<(int Status, string Operation)> Operations(EndpointDataSource endpoints, string name) =>
        [.. endpoints.Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [HttpMethods.Get])
                .Where(m => !HttpMethods.IsHead(m))
                .SelectMany(m => ErrorCatalog.For(e, m).Where(r => r.Name == name).Select(r => (r.Status, Operation: $"{m} {Route(e.RoutePattern)}"))))
            .Distinct().OrderBy(o => o.Operation, StringComparer.Ordinal)];

    private static string Route(RoutePattern pattern) =>
        "/" + string.Join("/", pattern.PathSegments.Select(s => string.Concat(s.Parts.Select(p => p switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter => "{" + parameter.Name + "}",
            RoutePatternSeparatorPart separator => separator.Content,
            _ => "",
        }))));

    private static string Example(ErrorInfo info)
    {
        var status = info.Statuses[0];
        var extra = info.Name switch
        {
            Problems.SessionRevoked => ",\n  \"reason\": \"kicked\"",
            Problems.Forbidden => ",\n  \"detail\": \"This needs the permission users:write.\",\n  \"required_permissions\": [\"users:write\"]",
            Problems.Validation => ",\n  \"detail\": \"tenant is required.\"",
            Problems.WeakPassword => ",\n  \"detail\": \"Use at least 12 characters.\"",
            _ => "",
        };
        return $"HTTP/1.1 {status} {ReasonPhrase(status)}\nContent-Type: application/problem+json\n\n{{\n  \"type\": \"{info.Type}\",\n  \"title\": \"{info.Title}\",\n  \"status\": {status}{extra}\n}}";
    }

    private static string ReasonPhrase(int status) => Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);

    private static string Href(HttpContext http, string name) => Html($"{http.Request.PathBase}{Problems.TypeBase}{name}");

    private static string Html(string text) => WebUtility.HtmlEncode(text);

    /// <summary>HTML-encodes, then shows `code` spans as code (the catalog's texts are shared with Swagger's Markdown).</summary>
    private static string Markdownish(string text)
    {
        var parts = Html(text).Split('`');
        var html = new StringBuilder();
        for (var i = 0; i < parts.Length; i++) html.Append(i % 2 == 1 ? $"<code>{parts[i]}</code>" : parts[i]);
        return html.ToString();
    }

    /// <summary>The pages change only with a new release; the answer depends on Accept.</summary>
    private static void Cacheable(HttpContext http)
    {
        http.Response.Headers.CacheControl = "public, max-age=3600";
        http.Response.Headers.Vary = "Accept";
    }

    private static ContentHttpResult Document(HttpContext http, string heading, string title, string body)
    {
        var page = $$"""
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{Html(heading)}} - SessionGate</title>
            <style>
            body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; }
            code, pre { font-family: ui-monospace, monospace; background: #f3f3f3; padding: 0 .2em; }
            pre { padding: .8em; overflow-x: auto; }
            table { border-collapse: collapse; }
            th, td { border-bottom: 1px solid #ddd; padding: .35em .6em; text-align: left; vertical-align: top; }
            dt { font-weight: bold; float: left; width: 4.5rem; }
            dd { margin-left: 5rem; }
            </style>
            </head>
            <body>
            <h1>{{Html(heading)}}</h1>
            <p><strong>{{Html(title)}}</strong></p>
            {{body}}
            </body>
            </html>
            """;
        return TypedResults.Content(page, "text/html; charset=utf-8", Encoding.UTF8);
    }
}
