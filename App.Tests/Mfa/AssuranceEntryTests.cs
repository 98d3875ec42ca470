using Microsoft.Extensions.DependencyInjection;
using SessionGate.Sessions;
using SessionGate.Tests.Auth;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Mfa;

/// <summary>A session's assurance in its Redis entry: carried through the compact encoding, and only ever moving forward.</summary>
public sealed class AssuranceEntryTests(ClusterFixture<SessionCache> fx) : IClassFixture<ClusterFixture<SessionCache>>
{
    private static SessionSnapshot Snapshot(Guid user, Guid session, SessionAssurance? assurance, string name = "x") =>
        new(user, Guid.NewGuid(), session, "web", name, [Guid.NewGuid()], DateTimeOffset.UtcNow,
            DateTimeOffset.UtcNow.AddHours(1), DateTimeOffset.UtcNow.AddMinutes(30), DateTimeOffset.UtcNow, 1, assurance);

    [Fact]
    public void The_assurance_round_trips_and_an_entry_without_one_still_reads()
    {
        var at = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var s = Snapshot(Guid.NewGuid(), Guid.NewGuid(), new SessionAssurance(AuthMethods.Password | AuthMethods.OneTimeCode | AuthMethods.MultiFactor, at, true), "Ålice");
        var decoded = SessionEntry.Decode(SessionEntry.Of(s).Encode())!.Live!;
        Assert.Equal(s.Assurance, decoded.Assurance);
        Assert.Equal("aal2", decoded.Assurance!.Acr);
        Assert.Equal(["pwd", "otp", "mfa"], decoded.Assurance.Amr);
        Assert.Equal("Ålice", decoded.Username);
        // Written by a version without second factors: no trailer, read as a password at the session's start.
        Assert.Null(SessionEntry.Decode(SessionEntry.Of(s with { Assurance = null }).Encode())!.Live!.Assurance);
        var bytes = SessionEntry.Of(s).Encode();
        Assert.Null(SessionEntry.Decode(bytes.AsSpan(0, bytes.Length - 3))); // a torn entry is a miss, never a guess
    }

    [Fact]
    public async Task A_slide_read_before_a_step_up_or_an_enrolment_cannot_bring_the_older_assurance_back()
    {
        var redis = fx.Factory.Services.GetRequiredService<RedisStore>();
        var (user, session) = (Guid.NewGuid(), Guid.NewGuid());
        var key = redis.SessionKey(user, session);
        var t0 = DateTimeOffset.UtcNow.AddMinutes(-5);
        var t1 = DateTimeOffset.UtcNow;
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, new SessionAssurance(AuthMethods.Password, t0, true), "restricted")), TimeSpan.FromMinutes(1));
        // The enrolment lifts the restriction (same auth_time): a stale slide may not restore it.
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, new SessionAssurance(AuthMethods.Password, t0), "lifted")), TimeSpan.FromMinutes(1));
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, new SessionAssurance(AuthMethods.Password, t0, true), "stale")), TimeSpan.FromMinutes(1));
        Assert.Equal("lifted", (await redis.GetSessionAsync(key))!.Live!.Username);
        // The step-up: a newer auth_time wins, an older one is refused.
        var raised = new SessionAssurance(AuthMethods.Password | AuthMethods.OneTimeCode | AuthMethods.MultiFactor, t1);
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, raised, "raised")), TimeSpan.FromMinutes(1));
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, new SessionAssurance(AuthMethods.Password, t0), "stale")), TimeSpan.FromMinutes(1));
        var entry = (await redis.GetSessionAsync(key))!.Live!;
        Assert.Equal("raised", entry.Username);
        Assert.Equal("aal2", entry.Assurance!.Acr);
        // A slide of the raised entry itself goes through.
        await redis.WriteSessionAsync(key, SessionEntry.Of(Snapshot(user, session, raised, "slid")), TimeSpan.FromMinutes(1));
        Assert.Equal("slid", (await redis.GetSessionAsync(key))!.Live!.Username);
    }
}
