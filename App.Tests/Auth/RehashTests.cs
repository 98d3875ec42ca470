using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using SessionGate.Data;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

public sealed class RehashTests_Opaque(AppFixture<Opaque> fx) : RehashTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class RehashTests_Blacklist(AppFixture<Blacklist> fx) : RehashTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class RehashTests_SessionCache(AppFixture<SessionCache> fx) : RehashTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

/// <summary>Hashes made with fewer PBKDF2 iterations are upgraded at the next successful login.</summary>
public abstract class RehashTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_weaker_hash_is_upgraded_at_login()
    {
        var user = await fx.NewUserAsync();
        var weak = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = 10_000 }));
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        var legacy = weak.HashPassword(null!, user.Password);
        await db.Users.Where(u => u.Id == user.Id).ExecuteUpdateAsync(u => u.SetProperty(x => x.PasswordHash, legacy));

        await fx.Api.LoginAsync(user);

        var stored = await db.Users.Where(u => u.Id == user.Id).Select(u => u.PasswordHash).SingleAsync();
        Assert.NotEqual(legacy, stored);
        var strong = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = 210_000 }));
        Assert.Equal(PasswordVerificationResult.Success, strong.VerifyHashedPassword(null!, stored, user.Password));
        await fx.Api.LoginAsync(user); // and the upgraded hash works
    }
}
