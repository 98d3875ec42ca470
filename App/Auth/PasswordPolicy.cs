using Microsoft.AspNetCore.Identity;
using SessionGate.Data;

namespace SessionGate.Auth;

/// <summary>
/// Hashing (PasswordHasher with at least 210,000 PBKDF2 iterations, run on <see cref="PasswordHashing"/>'s workers,
/// never on a request thread) and the strength rule.
/// </summary>
public sealed class PasswordPolicy(IPasswordHasher<User> hasher, PasswordHashing hashing)
{
    public const int Iterations = 210_000;

    // Unknown users are checked against this hash so that they cost as much time as known ones.
    private readonly Lazy<string> _dummyHash = new(() => hasher.HashPassword(null!, Guid.NewGuid().ToString("N")));

    public Task<string> HashAsync(User user, string password, CancellationToken ct) =>
        hashing.RunAsync(() => hasher.HashPassword(user, password), ct);

    /// <summary>Checks a password; an unknown user costs the same as a known one and always fails.</summary>
    public Task<PasswordVerificationResult> VerifyAsync(User? user, string hash, string password, CancellationToken ct) =>
        hashing.RunAsync(() =>
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
