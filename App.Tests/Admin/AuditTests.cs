using System.Net;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Admin;

public sealed class AuditTests_Opaque(AppFixture<Opaque> fx) : AuditTests<Opaque>(fx), IClassFixture<AppFixture<Opaque>>;
public sealed class AuditTests_Blacklist(AppFixture<Blacklist> fx) : AuditTests<Blacklist>(fx), IClassFixture<AppFixture<Blacklist>>;
public sealed class AuditTests_SessionCache(AppFixture<SessionCache> fx) : AuditTests<SessionCache>(fx), IClassFixture<AppFixture<SessionCache>>;

public abstract class AuditTests<TMode>(AppFixture<TMode> fx) where TMode : IMode
{
    [Fact]
    public async Task A_full_scenario_leaves_an_audit_trail_without_secrets()
    {
        var api = fx.Api;
        var alice = await fx.AliceAsync();
        var aliceId = (await api.MeAsync(alice)).UserId;
        var user = await fx.NewUserAsync(["user"]);
        var login = await api.LoginAsync(user);
        await api.LoginRawAsync(new { tenant = "acme", username = user.Username, password = "wrong-password-123" });
        await api.SendAsync(HttpMethod.Put, $"/admin/users/{user.Id}/roles", alice, new { roles = new[] { "reporter" } });
        var sid = (await api.GetJsonAsync("/admin/sessions?user_id=" + user.Id, alice)).GetProperty("items")[0].GetProperty("id").GetGuid();
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(HttpMethod.Delete, $"/admin/sessions/{sid}", alice)).StatusCode);
        await api.SendAsync(HttpMethod.Post, $"/admin/users/{user.Id}/ban", alice, new { reason = "scenario" });

        var audit = await api.GetJsonAsync($"/admin/audit?user_id={user.Id}&size=100", alice);
        var events = audit.GetProperty("items").EnumerateArray().ToList();
        var types = events.Select(e => e.GetProperty("type").GetString()).ToList();
        foreach (var expected in new[] { "user.created", "login.succeeded", "login.failed", "user.roles-changed", "session.kicked", "user.banned" })
            Assert.Contains(expected, types);
        Assert.True(types.IndexOf("user.banned") < types.IndexOf("login.succeeded"), "newest first");
        Assert.All(events, e =>
        {
            Assert.Equal("acme", e.GetProperty("tenant").GetString());
            Assert.True(e.GetProperty("at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddMinutes(-5));
            Assert.Equal(user.Id, e.GetProperty("subject_id").GetGuid());
        });
        Assert.Equal(aliceId, events.First(e => e.GetProperty("type").GetString() == "user.banned").GetProperty("actor_id").GetGuid());
        Assert.Equal(aliceId, events.First(e => e.GetProperty("type").GetString() == "session.kicked").GetProperty("actor_id").GetGuid());
        var raw = audit.GetRawText();
        Assert.DoesNotContain(user.Password, raw);
        Assert.DoesNotContain("wrong-password-123", raw);
        Assert.DoesNotContain(login.Bearer, raw);

        var filtered = await api.GetJsonAsync($"/admin/audit?user_id={user.Id}&type=login.failed", alice);
        Assert.Equal(1, filtered.GetProperty("total").GetInt64());
        var paged = await api.GetJsonAsync($"/admin/audit?user_id={user.Id}&size=2&page=2", alice);
        Assert.Equal(2, paged.GetProperty("items").GetArrayLength());
        Assert.Equal(events.Count, paged.GetProperty("total").GetInt64());
    }
}
