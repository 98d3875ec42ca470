using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Mvc;
using SessionGate.Audit;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.TokenExchange;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record CreateServiceClientRequest(
    [property: Description("The client's name, used as the user name of client_secret_basic (a-z, 0-9, . _ -; at most 64).")] string? ClientId,
    [property: Description("The aud of the internal JWTs this service receives: its own gateway route's or forward-auth rule's InternalJwtAudience. One client per audience.")] string? Audience,
    [property: Description("The audiences this service may exchange its tokens for.")] string[]? MayCall);

/// <summary>A new secret: shown once, stored only as a hash.</summary>
public sealed record ServiceClientSecret(string ClientId, string ClientSecret);

public sealed record ServiceClientView(string ClientId, string Audience, string[] MayCall, DateTimeOffset CreatedAt, DateTimeOffset SecretRotatedAt);

/// <summary>/admin/service-clients: the services that may use token exchange (platform admin only).</summary>
public static partial class ServiceClientsApi
{
    // POST   /admin/service-clients                       platform:admin
    // GET    /admin/service-clients                       platform:admin
    // DELETE /admin/service-clients/{client_id}           platform:admin
    // POST   /admin/service-clients/{client_id}/secret    platform:admin
    public static RouteGroupBuilder MapServiceClientsApi(this IEndpointRouteBuilder app)
    {
        var clients = app.MapGroup("/admin/service-clients").WithTags("Admin: service clients").RequireAuthorization(Permissions.PlatformAdmin).CapturesAuditContext();
        clients.MapPost("/", Create).WithName("CreateServiceClient")
            .WithSummary("Register a service for token exchange; the secret is shown once.")
            .WithDescription("The service authenticates to POST /oauth/token with client_secret_basic. It may exchange internal JWTs whose aud is its own audience for tokens addressed to an audience in may_call.")
            .ProducesProblems(400, Problems.Validation).ProducesProblems(409, Problems.Conflict)
            .WithProblemExample(Problems.Conflict, "It already exists.");
        clients.MapGet("/", List).WithName("ListServiceClients").WithSummary("The registered service clients (never their secrets).");
        clients.MapDelete("/{client_id}", Delete).WithName("DeleteServiceClient")
            .WithSummary("Remove a service client; its secret stops working at once.").ProducesProblems(404, Problems.NotFound);
        clients.MapPost("/{client_id}/secret", Rotate).WithName("RotateServiceClientSecret")
            .WithSummary("Replace the client's secret; the old one stops working at once. The new one is shown once.")
            .ProducesProblems(404, Problems.NotFound);
        return clients;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$")]
    private static partial Regex ClientIdPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")]
    internal static partial Regex AudiencePattern();

    private static async Task<Results<Created<ServiceClientSecret>, ProblemHttpResult>> Create(
        CreateServiceClientRequest? body, AppDbContext db, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        if (body is null || body.ClientId is null || !ClientIdPattern().IsMatch(body.ClientId))
            return Problems.ValidationFailed("client_id is required: a-z, 0-9, '.', '_' and '-', at most 64.", "client_id");
        if (body.Audience is null || !AudiencePattern().IsMatch(body.Audience))
            return Problems.ValidationFailed("audience is required: letters, digits and . _ : / -, at most 128.", "audience");
        var mayCall = body.MayCall ?? [];
        if (mayCall.Length > 50 || mayCall.Any(a => a is null || !AudiencePattern().IsMatch(a)))
            return Problems.ValidationFailed("may_call is a list of at most 50 audiences (letters, digits and . _ : / -).", "may_call");

        var secret = ClientSecrets.New();
        var now = time.GetUtcNow();
        var client = new ServiceClient
        {
            ClientId = body.ClientId,
            SecretHash = ClientSecrets.Hash(secret),
            Audience = body.Audience,
            MayCall = [.. mayCall.Distinct(StringComparer.Ordinal)],
            CreatedAt = now,
            SecretRotatedAt = now,
        };
        db.Set<ServiceClient>().Add(client);
        audit.Record(AuditTypes.ServiceClientCreated, detail: new { client_id = client.ClientId, audience = client.Audience, may_call = client.MayCall });
        await db.SaveChangesAsync(ct); // a taken client_id or audience is a unique violation: 409 conflict
        return TypedResults.Created($"/admin/service-clients/{client.ClientId}", new ServiceClientSecret(client.ClientId, secret));
    }

    private static async Task<Ok<List<ServiceClientView>>> List(AppDbContext db, CancellationToken ct) =>
        TypedResults.Ok(await db.Set<ServiceClient>().AsNoTracking().OrderBy(c => c.ClientId).Take(1000)
            .Select(c => new ServiceClientView(c.ClientId, c.Audience, c.MayCall, c.CreatedAt, c.SecretRotatedAt)).ToListAsync(ct));

    private static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        [FromRoute(Name = "client_id"), Description("The client's id.")] string clientId, AppDbContext db, AuditLog audit, CancellationToken ct)
    {
        if (clientId.Length > 64) return Problems.NotFoundResult();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        if (await db.Set<ServiceClient>().Where(c => c.ClientId == clientId).ExecuteDeleteAsync(ct) == 0) return Problems.NotFoundResult();
        await audit.RecordAsync(AuditTypes.ServiceClientDeleted, null, new { client_id = clientId }, ct);
        await tx.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    private static async Task<Results<Ok<ServiceClientSecret>, ProblemHttpResult>> Rotate(
        [FromRoute(Name = "client_id"), Description("The client's id.")] string clientId, AppDbContext db, AuditLog audit, TimeProvider time, CancellationToken ct)
    {
        if (clientId.Length > 64) return Problems.NotFoundResult();
        var secret = ClientSecrets.New();
        var hash = ClientSecrets.Hash(secret);
        var now = time.GetUtcNow();
        await using var tx = await db.Database.BeginTransactionAsync(ct);
        var changed = await db.Set<ServiceClient>().Where(c => c.ClientId == clientId)
            .ExecuteUpdateAsync(u => u.SetProperty(c => c.SecretHash, hash).SetProperty(c => c.SecretRotatedAt, now), ct);
        if (changed == 0) return Problems.NotFoundResult();
        await audit.RecordAsync(AuditTypes.ServiceClientSecretRotated, null, new { client_id = clientId }, ct);
        await tx.CommitAsync(ct);
        return TypedResults.Ok(new ServiceClientSecret(clientId, secret));
    }
}
