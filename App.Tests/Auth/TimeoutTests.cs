using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SessionGate.Data;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionGate.Tests.Auth;

public sealed class ShortTimeoutFixture<TMode> : AppFixture<TMode> where TMode : IMode
{
    protected override TimeSpan AdminLoginReuse => TimeSpan.Zero;

    protected override bool UsesTestClock => true;

    protected override void Configure(IDictionary<string, string?> s)
    {
        s["Session:IdleTimeout"] = "00:00:03";
        s["Session:AbsoluteTimeout"] = "00:00:07";
        s["Session:SlidingWriteInterval"] = "00:00:00.2";
        s["Jwt:AccessTokenLifetime"] = "00:00:03";
        s["Jwt:ClockSkew"] = "00:00:00";
    }
}

public sealed class TimeoutTests_Opaque(ShortTimeoutFixture<Opaque> fx, ITestOutputHelper o) : TimeoutTests<Opaque>(fx, o), IClassFixture<ShortTimeoutFixture<Opaque>>;
public sealed class TimeoutTests_Blacklist(ShortTimeoutFixture<Blacklist> fx, ITestOutputHelper o) : TimeoutTests<Blacklist>(fx, o), IClassFixture<ShortTimeoutFixture<Blacklist>>;
public sealed class TimeoutTests_SessionCache(ShortTimeoutFixture<SessionCache> fx, ITestOutputHelper o) : TimeoutTests<SessionCache>(fx, o), IClassFixture<ShortTimeoutFixture<SessionCache>>;

/// <summary>Idle (sliding) and absolute timeouts, with 3 s / 7 s limits.</summary>
public abstract class TimeoutTests<TMode> where TMode : IMode
{
    private readonly ShortTimeoutFixture<TMode> _fx;

    protected TimeoutTests(ShortTimeoutFixture<TMode> fx, ITestOutputHelper output)
    {
        _fx = fx;
        fx.Attach(output);
    }

    // Time passes at once where only the app's clock reads it (the session's own limits, the refresh token's, the
    // janitor's). Where the bearer is a JWT, IdentityModel checks its exp against the wall clock (Jwt:ClockSkew is 0
    // here), so there the time passes for real.
    private async Task ElapseAsync(TimeSpan time)
    {
        if (TMode.BearerIsJwt) await Task.Delay(time);
        else _fx.Clock!.Skip(time);
    }

    [Fact]
    public async Task An_idle_session_expires_and_cannot_be_refreshed()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync("/auth/me", login)).StatusCode);
        await ElapseAsync(TimeSpan.FromSeconds(3.6));
        var response = await _fx.Api.GetAsync("/auth/me", login);
        if (TMode.BearerIsJwt)
        {
            // The access token itself has expired: an expired credential is simply unauthenticated.
            await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.Unauthenticated);
            var refresh = await _fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
            await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        }
        else
        {
            await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, Problems.SessionRevoked, "expired");
        }
    }

    [Fact]
    public async Task Activity_slides_the_idle_expiry_until_the_absolute_limit()
    {
        var login = await _fx.Api.LoginAsync(await _fx.NewUserAsync());
        var started = _fx.Clock!.Now;
        // Keep the session busy for longer than the idle timeout: it stays alive. Real seconds: each slide is written
        // by the sliding writer in the background, and the next request must find it written.
        while (_fx.Clock.Now - started < TimeSpan.FromSeconds(4.5))
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            if (TMode.HasRefreshTokens) login = await _fx.Api.RefreshAsync(login);
            Assert.Equal(HttpStatusCode.OK, (await _fx.Api.GetAsync("/auth/me", login)).StatusCode);
        }
        // Past the absolute limit nothing keeps it alive.
        await ElapseAsync(started + TimeSpan.FromSeconds(7.4) - _fx.Clock.Now);
        if (TMode.HasRefreshTokens)
        {
            var refresh = await _fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh });
            await Problem.AssertAsync(refresh, HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        }
        else
        {
            await Problem.AssertAsync(await _fx.Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "expired");
        }
    }

    [Fact]
    public async Task Expired_sessions_drop_out_of_the_listings()
    {
        var user = await _fx.NewUserAsync();
        await _fx.Api.LoginAsync(user);
        await ElapseAsync(TimeSpan.FromSeconds(3.6));
        var admin = await _fx.AliceAsync();
        var sessions = await _fx.Api.GetAsync<ListPage<AdminSession>>($"/admin/sessions?user_id={user.Id}", admin);
        Assert.Equal(0, sessions.Total);
        Assert.Empty(sessions.Items);
    }

    [Fact]
    public async Task The_janitor_marks_sessions_that_ran_out_as_expired()
    {
        var user = await _fx.NewUserAsync();
        var login = await _fx.Api.LoginAsync(user);
        await ElapseAsync(TimeSpan.FromSeconds(3.6));
        var janitor = _fx.Factory.Services.GetRequiredService<SessionJanitor>();
        Assert.True((await janitor.RunOnceAsync(default)).Expired >= 1);
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database));
        var rows = await db.Sessions.Where(s => s.UserId == user.Id).Select(s => s.RevokeReason).ToListAsync();
        Assert.Equal(["expired"], rows);
        if (!TMode.BearerIsJwt)
            await Problem.AssertAsync(await _fx.Api.GetAsync("/auth/me", login), HttpStatusCode.Unauthorized, Problems.SessionRevoked, "expired");
    }

    [Fact]
    public async Task The_janitor_deletes_sessions_that_ended_longer_ago_than_the_retention_and_keeps_the_rest()
    {
        var user = await _fx.NewUserAsync();
        await _fx.Api.LoginAsync(user);
        var now = DateTimeOffset.UtcNow;
        Guid tenantId;
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database)))
            tenantId = await db.Users.Where(u => u.Id == user.Id).Select(u => u.TenantId).SingleAsync();
        // Rows as time would have left them: one that ran out nine days ago (past the 7-day retention), one two days ago.
        Session Ended(TimeSpan ago) => new()
        {
            Id = Guid.CreateVersion7(now - ago - TimeSpan.FromSeconds(7)), UserId = user.Id, TenantId = tenantId, DeviceType = "api",
            CreatedAt = now - ago - TimeSpan.FromSeconds(7), LastSeenAt = now - ago, IdleExpiresAt = now - ago, AbsoluteExpiresAt = now - ago,
            RevokedAt = now - ago, RevokeReason = "expired",
        };
        var (old, recent) = (Ended(TimeSpan.FromDays(9)), Ended(TimeSpan.FromDays(2)));
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database)))
        {
            db.Sessions.AddRange(old, recent);
            // Not expired by its own dates: only the deletion of its session can take it.
            db.RefreshTokens.Add(new RefreshToken { TokenHash = RandomNumberGenerator.GetBytes(32), SessionId = old.Id, UserId = user.Id,
                CreatedAt = old.CreatedAt, IdleExpiresAt = now.AddDays(1), ExpiresAt = now.AddDays(1) });
            await db.SaveChangesAsync();
        }

        var run = await _fx.Factory.Services.GetRequiredService<SessionJanitor>().RunOnceAsync(default);

        Assert.True(run.Deleted >= 1, $"deleted {run.Deleted}");
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(_fx.Database)))
        {
            var left = await db.Sessions.Where(s => s.UserId == user.Id).Select(s => s.Id).ToListAsync();
            Assert.DoesNotContain(old.Id, left);
            Assert.Contains(recent.Id, left);
            Assert.Equal(2, left.Count); // the recent one and the login's
            Assert.False(await db.RefreshTokens.AnyAsync(r => r.SessionId == old.Id));
        }
    }
}
