using System.ComponentModel.DataAnnotations;

namespace SessionGate.Caching;

/// <summary>Redis connection and key layout (<c>Redis</c> section).</summary>
public sealed class RedisOptions
{
    /// <summary>StackExchange.Redis configuration string: one node or a cluster seed list.</summary>
    [Required] public string Configuration { get; set; } = "127.0.0.1:16379";

    /// <summary>Prefix of every key.</summary>
    public string KeyPrefix { get; set; } = "sg:";
}
