using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using SessionGate.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace SessionGate.Tests.Revocation;

public sealed class ClusterHistoryTests_Opaque(PrivateClusterFixture<Opaque> fx, ITestOutputHelper o) : ClusterHistoryTests<Opaque>(fx, o), IClassFixture<PrivateClusterFixture<Opaque>>;
public sealed class ClusterHistoryTests_Blacklist(PrivateClusterFixture<Blacklist> fx, ITestOutputHelper o) : ClusterHistoryTests<Blacklist>(fx, o), IClassFixture<PrivateClusterFixture<Blacklist>>;
public sealed class ClusterHistoryTests_SessionCache(PrivateClusterFixture<SessionCache> fx, ITestOutputHelper o) : ClusterHistoryTests<SessionCache>(fx, o), IClassFixture<PrivateClusterFixture<SessionCache>>;

/// <summary>Instances A and B on a Redis Cluster of their own, no L1, a fast relay.</summary>
public sealed class PrivateClusterFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    public PrivateRedisCluster Cluster { get; private set; } = null!;
    public ApiClient B { get; private set; } = null!;

    public override string RedisConfiguration => Cluster.Configuration;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Revocation:LocalCacheMaxAge"] = "00:00:00";
        settings["Revocation:RelayInterval"] = "00:00:00.2";
        settings["Revocation:ProbeInterval"] = "00:00:00.2";
    }

    public override async Task InitializeAsync()
    {
        Cluster = await PrivateRedisCluster.StartAsync();
        await base.InitializeAsync();
        B = AnotherInstance(_ => { });
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

/// <summary>
/// A replica cut off from its master while revocations land there, then promoted by force (CLUSTER FAILOVER
/// TAKEOVER) after the master dies: the new master never had them, and its mark says so.
/// </summary>
public abstract class ClusterHistoryTests<TMode> where TMode : IMode
{
    private readonly PrivateClusterFixture<TMode> _fx;

    protected ClusterHistoryTests(PrivateClusterFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    [Fact]
    public async Task A_replica_promoted_without_the_revocations_brings_none_of_them_back()
    {
        var alice = await _fx.AliceAsync();
        var generation = await GenerationAsync();
        // Every victim's entry on one master: that master dies, and its stale replica takes over.
        int? master = null;
        var victims = new List<(RevocationKind Kind, RevocationKind.Target Target)>();
        // One of each way a change reaches Redis: a tombstone, a user's floor, a user's new security version.
        foreach (var kind in RevocationKind.All.Where(k => k.Name is "logout" or "kick-all" or "roles"))
        {
            for (var attempt = 0; ; attempt++)
            {
                var target = await RevocationKind.SetUpAsync(_fx);
                var (owner, _) = await _fx.Cluster.NodesOfSlotAsync(_fx.Cluster.SlotOf(KeyOf(target, generation)));
                master ??= owner;
                if (owner == master)
                {
                    victims.Add((kind, target));
                    break;
                }
                Assert.True(attempt < 30, "no session landed on the chosen master");
            }
        }
        var (_, replica) = await _fx.Cluster.NodesOfSlotAsync(_fx.Cluster.SlotOf(KeyOf(victims[0].Target, generation)));
        foreach (var (kind, target) in victims) Assert.Equal(HttpStatusCode.OK, (await kind.ProbeAsync(_fx.B, target.Victim)).StatusCode);

        // Cut off: frozen, and its link dropped by the master, so not even its socket buffers hold what follows.
        await _fx.Cluster.FreezeAsync(replica);
        await _fx.Cluster.CutReplicasAsync(master!.Value);
        foreach (var (kind, target) in victims) await kind.RevokeAsync(_fx, _fx.Api, target);
        // The master took them and its mark moved past them; the frozen replica has neither.
        await WaitProvenAsync();
        // No instance writes the revocations back meanwhile: what refuses them is each instance's own proof.
        await _fx.HoldWriterAsync(DateTimeOffset.UtcNow.AddHours(1));
        ApiClient c;
        try
        {
            await _fx.Cluster.KillAsync(master!.Value);
            await _fx.Cluster.ThawAsync(replica);
            await _fx.Cluster.TakeOverAsync(replica);

            c = _fx.AnotherInstance(_ => { });
            foreach (var (api, name) in new[] { (c, "C, started after the promotion"), (_fx.Api, "A"), (_fx.B, "B") })
            {
                foreach (var (kind, target) in victims)
                {
                    var response = await Eventually.AnsweredAsync(() => kind.ProbeAsync(api, target.Victim), TimeSpan.FromSeconds(30));
                    Assert.True(kind.Shows(response), $"{kind.Name} on {name}: accepted again after the stale promotion ({(int)response.StatusCode})");
                }
            }
        }
        finally
        {
            await _fx.HoldWriterAsync(DateTimeOffset.UnixEpoch);
        }
        // And once the relay has written them back into the new master, Redis itself refuses them.
        await WaitProvenAsync();
        foreach (var (kind, target) in victims) Assert.True(kind.Shows(await kind.ProbeAsync(c, target.Victim)), kind.Name);
    }

    // The key of the victim's session entry (Opaque, SessionCache) or of its user's revocations (Blacklist): see App/Sessions/RedisStore.cs.
    private string KeyOf(RevocationKind.Target target, long generation) => TMode.RedisKeyedByCredential
        ? $"{_fx.Prefix}{generation}:{{o:{WebEncoders.Base64UrlEncode(SHA256.HashData(Encoding.UTF8.GetBytes(target.Victim.Bearer)))}}}"
        : $"{_fx.Prefix}{generation}:{{u:{target.User.Id:N}}}";

    private async Task<long> GenerationAsync()
    {
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database));
        return await db.RedisKeyspaces.Where(k => k.Prefix == _fx.Prefix).Select(k => k.Generation).SingleAsync();
    }

    // Every row is applied again and every live master's mark has passed the newest row.
    private async Task WaitProvenAsync()
    {
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(_fx.Cluster.Configuration + ",connectTimeout=2000,allowAdmin=true");
        long newest;
        while (true)
        {
            await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database));
            newest = await db.Outbox.Where(o => o.SetAsideAt == null).MaxAsync(o => (long?)o.TxId) ?? 0;
            var unapplied = await db.Outbox.CountAsync(o => o.AppliedAt == null && o.SetAsideAt == null);
            var marks = new List<long>();
            foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
            {
                var me = (await server.ClusterNodesAsync())?.Nodes.FirstOrDefault(n => n.IsMyself);
                if (me is null || me.Slots.Count == 0) continue;
                var key = Enumerable.Range(0, 100_000).Select(i => (RedisKey)$"{_fx.Prefix}{{mark:{i}}}")
                    .First(k => me.Slots.Any(r => redis.HashSlot(k) >= r.From && redis.HashSlot(k) <= r.To));
                var raw = (string?)(RedisValue)await server.ExecuteAsync("GET", [key], CommandFlags.NoRedirect);
                marks.Add(raw is null ? 0 : long.Parse(raw.Split(':')[1]));
            }
            if (unapplied == 0 && marks.Count == 3 && marks.All(m => m > newest)) break;
            Assert.True(DateTimeOffset.UtcNow < deadline, $"the marks did not pass the outbox within 30 s (newest {newest}, marks {string.Join(',', marks)}, unapplied {unapplied})");
            await Task.Delay(100);
        }
        await Proof.EveryInstanceReadAsync(_fx.Instances, newest);
    }
}
