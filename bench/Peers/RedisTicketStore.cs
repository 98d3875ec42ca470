using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.WebUtilities;
using StackExchange.Redis;

namespace SessionGate.Bench.Peers;

/// <summary>
/// The usual server-side session for cookie authentication: the cookie carries only a random key (protected by
/// Data Protection, as stock AddCookie does), the ticket itself lives in Redis, serialized with
/// <see cref="TicketSerializer"/>, until the ticket's own expiry.
/// </summary>
public sealed class RedisTicketStore(IConnectionMultiplexer redis, string prefix) : ITicketStore
{
    private static readonly TimeSpan DefaultLifetime = TimeSpan.FromMinutes(30);

    private IDatabase Db => redis.GetDatabase();

    public async Task<string> StoreAsync(AuthenticationTicket ticket)
    {
        var id = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(24));
        await RenewAsync(id, ticket);
        return id;
    }

    public Task RenewAsync(string key, AuthenticationTicket ticket)
    {
        var ttl = ticket.Properties.ExpiresUtc is { } expires ? expires - DateTimeOffset.UtcNow : DefaultLifetime;
        if (ttl < TimeSpan.FromSeconds(1)) ttl = TimeSpan.FromSeconds(1);
        return Db.StringSetAsync(prefix + key, TicketSerializer.Default.Serialize(ticket), ttl);
    }

    public async Task<AuthenticationTicket?> RetrieveAsync(string key)
    {
        var value = await Db.StringGetAsync(prefix + key);
        return value.IsNull ? null : TicketSerializer.Default.Deserialize((byte[])value!);
    }

    public Task RemoveAsync(string key) => Db.KeyDeleteAsync(prefix + key);
}
