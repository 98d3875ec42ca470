using System.Text;
using Geralt;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

public sealed class RehashTests_Opaque(ShippedHashingFixture<Opaque> fx) : RehashTests<Opaque>(fx), IClassFixture<ShippedHashingFixture<Opaque>>;
public sealed class RehashTests_Blacklist(ShippedHashingFixture<Blacklist> fx) : RehashTests<Blacklist>(fx), IClassFixture<ShippedHashingFixture<Blacklist>>;
public sealed class RehashTests_SessionCache(ShippedHashingFixture<SessionCache> fx) : RehashTests<SessionCache>(fx), IClassFixture<ShippedHashingFixture<SessionCache>>;

/// <summary>The app as shipped: argon2id at the parameters appsettings.json gives.</summary>
public sealed class ShippedHashingFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override bool ShippedPasswordHashing => true;
}

/// <summary>
/// Passwords are stored as argon2id PHC strings at the configured cost (OWASP's minimum: m = 19 MiB, t = 2, p = 1);
/// PBKDF2 hashes from before, and argon2id hashes of another cost, are verified as they are and replaced at the next
/// successful login.
/// </summary>
public abstract class RehashTests<TMode>(ShippedHashingFixture<TMode> fx) where TMode : IMode
{
    private const string Argon2Shipped = "$argon2id$v=19$m=19456,t=2,p=1$";

    private async Task<string> StoredAsync(AppDbContext db, Guid id) => await db.Users.Where(u => u.Id == id).Select(u => u.PasswordHash).SingleAsync();

    private async Task<string> StoreAsync(AppDbContext db, TestUser user, string hash)
    {
        await db.Users.Where(u => u.Id == user.Id).ExecuteUpdateAsync(u => u.SetProperty(x => x.PasswordHash, hash));
        return hash;
    }

    [Fact]
    public async Task New_passwords_are_stored_as_argon2id_with_their_parameters()
    {
        var user = await fx.NewUserAsync();
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        var stored = await StoredAsync(db, user.Id);
        Assert.StartsWith(Argon2Shipped, stored);
        Assert.True(Argon2id.VerifyHash(stored, Encoding.UTF8.GetBytes(user.Password)));
        await fx.Api.LoginAsync(user);
        Assert.Equal(stored, await StoredAsync(db, user.Id)); // a current hash is left alone
    }

    [Theory]
    [InlineData(PasswordPolicy.Iterations)] // what SessionGate stored before argon2id
    [InlineData(10_000)]                    // an older, weaker PBKDF2 hash
    public async Task A_pbkdf2_hash_still_logs_in_once_and_is_replaced_by_argon2id(int iterations)
    {
        var user = await fx.NewUserAsync();
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        var pbkdf2 = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = iterations }));
        var legacy = await StoreAsync(db, user, pbkdf2.HashPassword(null!, user.Password));

        await Problem.AssertAsync(await fx.Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = "wrong-password-123" }),
            System.Net.HttpStatusCode.Unauthorized, SessionGate.Infrastructure.Problems.InvalidCredentials);
        Assert.Equal(legacy, await StoredAsync(db, user.Id)); // a wrong password changes nothing

        await fx.Api.LoginAsync(user);
        var upgraded = await StoredAsync(db, user.Id);
        Assert.StartsWith(Argon2Shipped, upgraded);
        Assert.True(Argon2id.VerifyHash(upgraded, Encoding.UTF8.GetBytes(user.Password)));

        await fx.Api.LoginAsync(user); // and the new hash works, and stays
        Assert.Equal(upgraded, await StoredAsync(db, user.Id));
    }

    [Fact]
    public async Task Concurrent_first_logins_after_the_upgrade_all_get_in()
    {
        var user = await fx.NewUserAsync();
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        var pbkdf2 = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = PasswordPolicy.Iterations }));
        await StoreAsync(db, user, pbkdf2.HashPassword(null!, user.Password));
        // Each verifies the PBKDF2 hash, one rehashes first; the others must not take that for a password change.
        var logins = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            fx.Api.LoginRawAsync(new { tenant = user.Tenant, username = user.Username, password = user.Password })));
        Assert.All(logins, l => Assert.Equal(System.Net.HttpStatusCode.OK, l.StatusCode));
        Assert.StartsWith(Argon2Shipped, await StoredAsync(db, user.Id));
    }

    [Fact]
    public async Task An_argon2id_hash_of_another_cost_is_rehashed_at_the_configured_cost()
    {
        var user = await fx.NewUserAsync();
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        var buffer = new char[Argon2id.HashSize];
        Argon2id.ComputeHash(buffer, Encoding.UTF8.GetBytes(user.Password), 1, 8 * 1024 * 1024);
        var cheap = await StoreAsync(db, user, new string(buffer).TrimEnd('\0'));
        Assert.StartsWith("$argon2id$v=19$m=8192,t=1,p=1$", cheap);

        await fx.Api.LoginAsync(user);
        Assert.StartsWith(Argon2Shipped, await StoredAsync(db, user.Id));
    }
}

/// <summary>The hasher itself (no host): the other algorithm, and what a malformed stored hash does.</summary>
public sealed class Argon2PasswordHasherTests
{
    private static Argon2PasswordHasher Hasher(PasswordAlgorithm algorithm) =>
        new(Options.Create(new PasswordHashingOptions { Algorithm = algorithm }));

    [Fact]
    public void Configured_for_pbkdf2_it_writes_pbkdf2_and_upgrades_argon2id_hashes_to_it()
    {
        var pbkdf2 = Hasher(PasswordAlgorithm.Pbkdf2);
        var argon2 = Hasher(PasswordAlgorithm.Argon2id);
        var hash = pbkdf2.HashPassword(null!, "correct horse battery");
        Assert.DoesNotContain("$argon2id$", hash);
        Assert.Equal(PasswordVerificationResult.Success, pbkdf2.VerifyHashedPassword(null!, hash, "correct horse battery"));
        Assert.Equal(PasswordVerificationResult.SuccessRehashNeeded, argon2.VerifyHashedPassword(null!, hash, "correct horse battery"));
        var argon2Hash = argon2.HashPassword(null!, "correct horse battery");
        Assert.Equal(PasswordVerificationResult.SuccessRehashNeeded, pbkdf2.VerifyHashedPassword(null!, argon2Hash, "correct horse battery"));
        Assert.Equal(PasswordVerificationResult.Failed, argon2.VerifyHashedPassword(null!, argon2Hash, "wrong horse battery"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("$argon2id$garbage")]
    [InlineData("$argon2id$v=19$m=19456,t=2,p=1$$")]
    [InlineData("not base64 at all!")]
    public void A_malformed_stored_hash_matches_no_password(string stored) =>
        Assert.Equal(PasswordVerificationResult.Failed, Hasher(PasswordAlgorithm.Argon2id).VerifyHashedPassword(null!, stored, "any password at all"));

    [Theory]
    [InlineData(19_456, 2, true)]
    [InlineData(47_104, 1, true)]
    [InlineData(7_168, 5, true)]
    [InlineData(65_536, 3, true)]
    [InlineData(19_456, 1, false)]
    [InlineData(8_192, 2, false)]
    public void Only_owasp_minimums_or_stronger_are_accepted(int memoryKiB, int iterations, bool accepted) =>
        Assert.Equal(accepted, new PasswordHashingOptions { Argon2MemoryKiB = memoryKiB, Argon2Iterations = iterations }.MeetsOwaspArgon2Minimum());
}
