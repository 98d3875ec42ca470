using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Auth;
using SessionGate.Infrastructure;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Auth;

public sealed class SaturatedHashingFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override bool ShippedPasswordHashing => true;

    protected override void Configure(IDictionary<string, string?> s)
    {
        s["PasswordHashing:MaxConcurrency"] = "1";
        s["PasswordHashing:MaxQueue"] = "1";
        s["LoginLimits:MaxFailuresPerAccountAndAddress"] = "3";
        // A hash slow enough (about 0.3 s) that the three attempts the limit lets through are hashing or waiting at
        // once, however the machine schedules them: one runs, one waits, the third finds the queue full.
        s["PasswordHashing:Argon2Iterations"] = "30";
    }
}

public sealed class SaturatedHashingTests_Opaque(SaturatedHashingFixture<Opaque> fx) : SaturatedHashingTests<Opaque>(fx), IClassFixture<SaturatedHashingFixture<Opaque>>;
public sealed class SaturatedHashingTests_Blacklist(SaturatedHashingFixture<Blacklist> fx) : SaturatedHashingTests<Blacklist>(fx), IClassFixture<SaturatedHashingFixture<Blacklist>>;
public sealed class SaturatedHashingTests_SessionCache(SaturatedHashingFixture<SessionCache> fx) : SaturatedHashingTests<SessionCache>(fx), IClassFixture<SaturatedHashingFixture<SessionCache>>;

/// <summary>A login flood waits for the hashing workers, then gets 503 with Retry-After, and counts against no one.</summary>
public abstract class SaturatedHashingTests<TMode>(SaturatedHashingFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task Logins_beyond_the_hashing_capacity_get_503_and_count_as_no_failure()
    {
        var user = await fx.NewUserAsync();
        var flood = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ =>
            fx.Api.LoginFromAsync("198.51.100.50", new { tenant = user.Tenant, username = user.Username, password = "wrong-password-123" })));
        var refused = flood.Where(r => r.StatusCode == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.NotEmpty(refused);
        await Problem.AssertAsync(refused[0], HttpStatusCode.ServiceUnavailable, Problems.ServiceUnavailable);
        Assert.True(refused[0].Headers.Contains("Retry-After"));
        // Only the wrong passwords that were actually checked count (at most the limit of 3 got through to 401).
        Assert.InRange(flood.Count(r => r.StatusCode == HttpStatusCode.Unauthorized), 1, 3);
        var view = await fx.Api.GetAsync<UserDetail>($"/admin/users/{user.Id}", await fx.AliceAsync());
        Assert.Equal(flood.Count(r => r.StatusCode == HttpStatusCode.Unauthorized), view.LoginLock.Failures);
    }
}

public sealed class LoginHardeningTests_Opaque(AppFixture<Opaque> fx) : LoginHardeningTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class LoginHardeningTests_Blacklist(AppFixture<Blacklist> fx) : LoginHardeningTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class LoginHardeningTests_SessionCache(AppFixture<SessionCache> fx) : LoginHardeningTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

public abstract class LoginHardeningTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task An_admin_changing_its_own_password_must_give_the_current_one()
    {
        var admin = await fx.NewUserAsync(["admin"]);
        var login = await fx.Api.LoginAsync(admin);
        var url = $"/admin/users/{admin.Id}";
        var missing = await fx.Api.SendAsync(HttpMethod.Patch, url, login, new { password = "brand-new-password-1" });
        var problem = await Problem.AssertAsync(missing, HttpStatusCode.BadRequest, Problems.Validation);
        Assert.Equal("current_password", problem.Field);
        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Patch, url, login, new { password = "brand-new-password-1", current_password = "wrong-password-123" }),
            HttpStatusCode.Forbidden, Problems.InvalidCredentials);
        await fx.Api.LoginAsync(admin); // unchanged
        Assert.Equal(HttpStatusCode.OK, (await fx.Api.SendAsync(HttpMethod.Patch, url, login, new { password = "brand-new-password-1", current_password = admin.Password })).StatusCode);
        await fx.Api.LoginAsync(admin with { Password = "brand-new-password-1" });
    }

    [Fact]
    public async Task Giving_back_an_attempt_after_its_window_ended_never_leaves_a_negative_count()
    {
        var counters = fx.Factory.Services.GetRequiredService<LoginCounters>();
        var key = counters.AddressKey("192.0.2." + Random.Shared.Next(1, 250) + "/" + Guid.NewGuid().ToString("N"));
        var reservation = new LimitReservation([new LimitCount(LoginCounters.AddressScope, key, 1, TimeSpan.FromMinutes(1))], []);
        await counters.ReleaseAsync(reservation, succeeded: false); // the window ended: nothing to give back
        Assert.Null(await counters.ResetsInAsync(key));
        Assert.Equal(1, await counters.CountAttemptAsync(key, TimeSpan.FromMinutes(1)));
        await counters.ReleaseAsync(reservation, succeeded: false);
        await counters.ReleaseAsync(reservation, succeeded: false);
        Assert.Equal(1, await counters.CountAttemptAsync(key, TimeSpan.FromMinutes(1)));
    }
}
