using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Auth;

/// <summary>
/// The same app on a Redis Cluster (6 nodes, started by scripts/test). Every key a request reads shares one hash
/// tag, so the hot path stays one round trip on one slot; a cross-slot MGET would fail here.
/// </summary>
public sealed class ClusterFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public override string RedisConfiguration =>
        TestEnvironment.RedisCluster ?? throw new InvalidOperationException(
            "SG_TEST_REDIS_CLUSTER is not set: run the suite with scripts/test, which starts a Redis Cluster.");
}

public sealed class ClusterAuthFlowTests_Opaque(ClusterFixture<Opaque> fx, ITestOutputHelper o) : AuthFlowTests<Opaque>(fx, o), IClassFixture<ClusterFixture<Opaque>>;
public sealed class ClusterAuthFlowTests_Blacklist(ClusterFixture<Blacklist> fx, ITestOutputHelper o) : AuthFlowTests<Blacklist>(fx, o), IClassFixture<ClusterFixture<Blacklist>>;
public sealed class ClusterAuthFlowTests_SessionCache(ClusterFixture<SessionCache> fx, ITestOutputHelper o) : AuthFlowTests<SessionCache>(fx, o), IClassFixture<ClusterFixture<SessionCache>>;
