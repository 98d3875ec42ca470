using Microsoft.AspNetCore.Identity;
using SessionGate.Data;

namespace SessionGate.Auth;

/// <summary>
/// Hashing (argon2id by default, see <see cref="Argon2PasswordHasher"/>, run on <see cref="PasswordHashing"/>'s
/// workers, never on a request thread) and the strength rule.
/// </summary>
public sealed class PasswordPolicy(IPasswordHasher<User> hasher, PasswordHashing hashing)
{
    /// <summary>PBKDF2 iterations of the hashes SessionGate wrote before argon2id (and with <c>PasswordHashing:Algorithm=Pbkdf2</c>).</summary>
    public const int Iterations = 210_000;

    // Unknown users are checked against this hash, made with the configured algorithm and cost, so that they cost as
    // much time as known ones.
    private readonly Lazy<string> _dummyHash = new(() => hasher.HashPassword(null!, Guid.NewGuid().ToString("N")));

    public Task<string> HashAsync(User user, string password, HashingLane lane, CancellationToken ct) =>
        hashing.RunAsync(lane, () => hasher.HashPassword(user, password), ct);

    /// <summary>Checks a password; an unknown user costs the same as a known one and always fails.</summary>
    public Task<PasswordVerificationResult> VerifyAsync(User? user, string hash, string password, HashingLane lane, CancellationToken ct) =>
        hashing.RunAsync(lane, () =>
        {
            if (user is null)
            {
                hasher.VerifyHashedPassword(null!, _dummyHash.Value, password);
                return PasswordVerificationResult.Failed;
            }
            return hasher.VerifyHashedPassword(user, hash, password);
        }, ct);

    /// <summary>For start-up seeding only, where no request waits.</summary>
    public string HashNow(User user, string password) => hasher.HashPassword(user, password);

    public void Warm() => _ = _dummyHash.Value;

    /// <summary>Null when strong enough, otherwise why not.</summary>
    public static string? Weakness(string password, string? username)
    {
        if (password.Length < Limits.MinPassword) return $"Use at least {Limits.MinPassword} characters.";
        if (password.Distinct().Count() < 4) return "Use more different characters.";
        if (username is not null && password.Contains(username, StringComparison.OrdinalIgnoreCase)) return "Do not include the username.";
        return null;
    }
}
