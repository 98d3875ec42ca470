using Microsoft.Extensions.Diagnostics.HealthChecks;
using SessionGate.Caching;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Hosting;

internal sealed class PostgresHealthCheck(AppDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            return await db.Database.CanConnectAsync(ct) ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("PostgreSQL does not answer.");
        }
        catch (Exception)
        {
            return HealthCheckResult.Unhealthy("PostgreSQL does not answer.");
        }
    }
}

/// <summary>
/// Redis answers, and has proven how current it is. Degraded (still HTTP 200: every instance shares Redis, so taking
/// them all out of rotation would turn a slow path into an outage) while a master cannot be caught up or changes wait
/// longer than <c>Revocation:ProofLagWarning</c> to be proven; PostgreSQL decides the users concerned meanwhile.
/// </summary>
internal sealed class RedisHealthCheck(RedisStore redis, SessionGate.Sessions.RedisProof proof, Microsoft.Extensions.Options.IOptions<SessionGate.Caching.RevocationOptions> options) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        try
        {
            await redis.PingAsync();
            if (proof.Trust == SessionGate.Sessions.RedisTrust.Unprovable) return HealthCheckResult.Degraded("Redis cannot prove it holds every revocation; PostgreSQL decides.");
            if (proof.Trust == SessionGate.Sessions.RedisTrust.Unknown) return HealthCheckResult.Degraded("Redis has not proven how current it is yet.");
            var (count, age) = proof.Backlog;
            if (count > 0 && age > options.Value.ProofLagWarning) return HealthCheckResult.Degraded("Redis has not taken every change yet; PostgreSQL decides the users concerned.");
            return HealthCheckResult.Healthy();
        }
        catch (Exception)
        {
            return HealthCheckResult.Unhealthy("Redis does not answer.");
        }
    }
}
