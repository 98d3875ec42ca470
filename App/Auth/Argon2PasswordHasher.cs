using System.Buffers;
using System.Text;
using Geralt;
using Microsoft.AspNetCore.Identity;
using SessionGate.Data;

namespace SessionGate.Auth;

/// <summary>
/// Password hashes in two formats, each carrying its own parameters: argon2id as libsodium's PHC string
/// (<c>$argon2id$v=19$m=19456,t=2,p=1$salt$hash</c>), and ASP.NET Core Identity's PBKDF2 format (its header names
/// the PRF and the iteration count). New hashes use <see cref="PasswordHashingOptions.Algorithm"/>; a right password
/// against a hash of the other format or with weaker parameters answers <see cref="PasswordVerificationResult.SuccessRehashNeeded"/>.
/// It is synchronous and CPU-bound: callers run it on <see cref="PasswordHashing"/>'s workers.
/// </summary>
public sealed class Argon2PasswordHasher : IPasswordHasher<User>
{
    private const string Argon2Prefix = "$argon2id$";
    private readonly PasswordHashingOptions _options;
    private readonly PasswordHasher<User> _pbkdf2;

    public Argon2PasswordHasher(IOptions<PasswordHashingOptions> options)
    {
        _options = options.Value;
        _pbkdf2 = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = _options.Pbkdf2Iterations }));
    }

    private int MemoryBytes => _options.Argon2MemoryKiB * 1024;

    public string HashPassword(User user, string password)
    {
        if (_options.Algorithm == PasswordAlgorithm.Pbkdf2) return _pbkdf2.HashPassword(user, password);
        Span<char> hash = stackalloc char[Argon2id.HashSize];
        var buffer = Utf8(password, out var length);
        try
        {
            Argon2id.ComputeHash(hash, buffer.AsSpan(0, length), _options.Argon2Iterations, MemoryBytes);
        }
        finally
        {
            Wipe(buffer);
        }
        // libsodium writes a NUL-terminated string into the buffer.
        var end = hash.IndexOf('\0');
        return new string(end < 0 ? hash : hash[..end]);
    }

    public PasswordVerificationResult VerifyHashedPassword(User user, string hashedPassword, string providedPassword)
    {
        if (!hashedPassword.StartsWith(Argon2Prefix, StringComparison.Ordinal))
        {
            PasswordVerificationResult result;
            try
            {
                result = _pbkdf2.VerifyHashedPassword(user, hashedPassword, providedPassword);
            }
            catch (FormatException)
            {
                return PasswordVerificationResult.Failed;
            }
            return result == PasswordVerificationResult.Success && _options.Algorithm != PasswordAlgorithm.Pbkdf2
                ? PasswordVerificationResult.SuccessRehashNeeded
                : result;
        }
        var buffer = Utf8(providedPassword, out var length);
        try
        {
            if (!Argon2id.VerifyHash(hashedPassword, buffer.AsSpan(0, length))) return PasswordVerificationResult.Failed;
            return _options.Algorithm != PasswordAlgorithm.Argon2id || Argon2id.NeedsRehash(hashedPassword, _options.Argon2Iterations, MemoryBytes)
                ? PasswordVerificationResult.SuccessRehashNeeded
                : PasswordVerificationResult.Success;
        }
        catch (ArgumentException)
        {
            // A malformed stored hash (or parameters libsodium refuses) matches no password.
            return PasswordVerificationResult.Failed;
        }
        finally
        {
            Wipe(buffer);
        }
    }

    // The password's UTF-8 bytes live in a pooled buffer that is wiped after use.
    private static byte[] Utf8(string password, out int length)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(password.Length));
        length = Encoding.UTF8.GetBytes(password, buffer);
        return buffer;
    }

    private static void Wipe(byte[] buffer)
    {
        Array.Clear(buffer);
        ArrayPool<byte>.Shared.Return(buffer);
    }
}
