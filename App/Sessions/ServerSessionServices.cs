using SessionGate.Caching;
using SessionGate.Data;

namespace SessionGate.Sessions;

/// <summary>What the server-side modes need besides their own parts; one bundle so the modes' constructors stay short.</summary>
public sealed class ServerSessionServices(
    RedisStore redis,
    IDbContextFactory<AppDbContext> dbs,
    LocalCache cache,
    RoleSets roleSets,
    SlidingWriter slider,
    InvalidationBus bus,
    UserFloors floors,
    RedisProof proof,
    TimeProvider time,
    IOptions<SessionLifetimeOptions> options,
    Observability.SessionGateMetrics metrics)
{
    public Observability.SessionGateMetrics Metrics => metrics;
    public RedisStore Redis => redis;
    public IDbContextFactory<AppDbContext> Dbs => dbs;
    public LocalCache Cache => cache;
    public RoleSets RoleSets => roleSets;
    public SlidingWriter Slider => slider;
    public InvalidationBus Bus => bus;
    public UserFloors Floors => floors;
    public RedisProof Proof => proof;
    public TimeProvider Time => time;
    public SessionLifetimeOptions Options => options.Value;
}
