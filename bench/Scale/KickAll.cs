using System.Diagnostics;
using System.Globalization;
using System.Net;
using Microsoft.EntityFrameworkCore;
using SessionGate.Sessions;

namespace SessionGate.Bench.Scale;

/// <summary>
/// Kick-all of a user with many sessions, as an admin does it: <c>POST /admin/users/{id}/logout-all</c>. Each round
/// first opens the sessions (seeded as in <see cref="Seeder"/>), proves a few of them work, kicks, and then checks
/// every store: no live row in PostgreSQL, a tombstone in Redis for every session, 401 from the app.
/// </summary>
public static class KickAll
{
    public static async Task<int> RunAsync(Args args)
    {
        var baseUrl = args.Required("base");
        var bearer = args.Required("bearer");
        var tenant = args.String("tenant", Seeder.BigTenant);
        var rounds = args.Int("rounds", 5);
        var count = args.Int("count", 1000);
        // A kick-all leaves its sessions' rows to the relay (within a relay tick, Revocation:RelayInterval): rounds
        // wait for that, as kick-alls of one user seconds apart are not what this measures.
        var pause = args.Time("pause", TimeSpan.FromSeconds(4));
        var lifetime = Seeder.Lifetime(args);
        await using var app = await AppParts.CreateAsync(args);
        using var http = HttpTiming.NewClient(baseUrl);

        var times = new List<double>();
        for (var round = 0; round <= rounds; round++)
        {
            if (round > 0) await Task.Delay(pause);
            var (user, credentials) = await Seeder.OpenHeavyAsync(app, count, lifetime);
            var live = await LiveCountAsync(app, user.Id);
            if (live < count) throw new BenchException($"the heavy user has {live} live sessions, expected at least {count}");
            string[] probes = [credentials[0], credentials[count / 2], credentials[^1]];
            foreach (var probe in probes) await ExpectAsync(http, probe, HttpStatusCode.OK, "before kick-all");

            using var request = HttpTiming.Request(HttpMethod.Post, $"admin/users/{user.Id}/logout-all?tenant={Uri.EscapeDataString(tenant)}", bearer);
            var watch = Stopwatch.StartNew();
            using var response = await http.SendAsync(request);
            await response.Content.ReadAsByteArrayAsync();
            var ms = watch.Elapsed.TotalMilliseconds;
            if (response.StatusCode != HttpStatusCode.NoContent)
                throw new BenchException($"logout-all answered {(int)response.StatusCode}");

            foreach (var probe in probes) await ExpectAsync(http, probe, HttpStatusCode.Unauthorized, "after kick-all");
            if (await LiveCountAsync(app, user.Id) is var left and > 0) throw new BenchException($"{left} sessions still live in PostgreSQL after kick-all");
            var tombstones = await Task.WhenAll(credentials.Select(c => app.Store.GetSessionAsync(app.Store.OpaqueKey(SessionSecrets.Hash(c)))));
            var notEnded = tombstones.Count(e => e?.Revoked is null);
            if (notEnded > 0) throw new BenchException($"{notEnded} of {count} Redis entries are not tombstones after kick-all");

            Program.Log($"kick-all round {round}{(round == 0 ? " (warm-up, not counted)" : "")}: {live} live sessions ended in {ms:0.0} ms; PostgreSQL, Redis and the app agree");
            if (round > 0) times.Add(ms);
        }
        Program.Emit("kickall.sessions", count);
        Program.Emit("kickall.rounds", times.Count);
        Program.Emit("kickall.median_ms", Stats.Ms(Stats.Median(times)));
        Program.Emit("kickall.min_ms", Stats.Ms(times.Min()));
        Program.Emit("kickall.max_ms", Stats.Ms(times.Max()));
        Program.Emit("kickall.all_ms", string.Join(' ', times.Select(t => t.ToString("0.0", CultureInfo.InvariantCulture))));
        return 0;
    }

    private static async Task<int> LiveCountAsync(AppParts app, Guid userId)
    {
        await using var db = app.NewDb();
        return await db.Sessions.Where(s => s.UserId == userId).CountAsync(SessionReader.IsLive(DateTimeOffset.UtcNow));
    }

    private static async Task ExpectAsync(HttpClient http, string credential, HttpStatusCode expected, string when)
    {
        using var request = HttpTiming.Request(HttpMethod.Get, "api/profile", credential);
        using var response = await http.SendAsync(request);
        if (response.StatusCode != expected)
            throw new BenchException($"{when}: GET /api/profile with a heavy-user session answered {(int)response.StatusCode}, expected {(int)expected}");
    }
}
