using StackExchange.Redis;

namespace SessionGate.Tests.Infrastructure;

/// <summary>Test-only Redis access: wipes one fixture's keys (its whole keyspace, as FLUSHDB would for it).</summary>
public static class RedisAdmin
{
    public static async Task<int> DeletePrefixAsync(string configuration, string prefix)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AllowAdmin = true;
        await using var redis = await ConnectionMultiplexer.ConnectAsync(options);
        var deleted = 0;
        foreach (var server in redis.GetServers().Where(s => !s.IsReplica && s.IsConnected))
        {
            await foreach (var key in server.KeysAsync(pattern: prefix + "*", pageSize: 1000))
            {
                if (await redis.GetDatabase().KeyDeleteAsync(key)) deleted++;
            }
        }
        return deleted;
    }
}
