using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using SessionGate.Infrastructure;
using SessionGate.Sessions;
using SessionGate.Tests.Admin;
using SessionGate.Tests.Infrastructure;

namespace SessionGate.Tests.Tokens;

/// <summary>A short overlap and no activation delay, so a rotation's whole life fits in a test.</summary>
public sealed class SessionIdKeyFixture<TMode> : ClockFixture<TMode> where TMode : IMode
{
    public static readonly TimeSpan Overlap = TimeSpan.FromSeconds(6);

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["SessionIdKey:Overlap"] = Overlap.ToString();
        settings["SessionIdKey:ActivationDelay"] = "00:00:00";
    }
}

public sealed class SessionIdKeyTests_Opaque(SessionIdKeyFixture<Opaque> fx) : SessionIdKeyTests<Opaque>(fx), IClassFixture<SessionIdKeyFixture<Opaque>>;
public sealed class SessionIdKeyTests_Blacklist(SessionIdKeyFixture<Blacklist> fx) : SessionIdKeyTests<Blacklist>(fx), IClassFixture<SessionIdKeyFixture<Blacklist>>;
public sealed class SessionIdKeyTests_SessionCache(SessionIdKeyFixture<SessionCache> fx) : SessionIdKeyTests<SessionCache>(fx), IClassFixture<SessionIdKeyFixture<SessionCache>>;

/// <summary>
/// The key that MACs session ids (Opaque) and refresh tokens (the JWT modes) rotates with an overlap: what was issued
/// under the previous key keeps working through it, then is refused; what is issued after uses the new key id.
/// </summary>
public abstract class SessionIdKeyTests<TMode>(SessionIdKeyFixture<TMode> fx) where TMode : IMode
{
    /// <summary>The credential the MAC key protects: the session id, or the refresh token.</summary>
    private static string Secret(Login login) => TMode.HasRefreshTokens ? login.Refresh! : login.Bearer;

    private static int KeyIdOf(string secret) => Base64Url.DecodeFromChars(secret)[0];

    /// <summary>Uses the secret once: /auth/me with the session id, or a refresh with the refresh token.</summary>
    private Task<HttpResponseMessage> UseAsync(Login login) => TMode.HasRefreshTokens
        ? fx.Api.Http.PostAsJsonAsync("/auth/refresh", new { refresh_token = login.Refresh })
        : fx.Api.GetAsync("/auth/me", login);

    [Fact]
    public async Task Credentials_of_the_previous_key_work_through_the_overlap_then_are_refused()
    {
        var user = await fx.NewUserAsync();
        var during = await fx.Api.LoginAsync(user);
        var after = await fx.Api.LoginAsync(user);
        var previous = KeyIdOf(Secret(during));
        Assert.Equal(previous, KeyIdOf(Secret(after)));

        await Problem.AssertAsync(await fx.Api.SendAsync(HttpMethod.Post, "/admin/keys/session-id/rotate", await fx.AliceAsync()),
            HttpStatusCode.Forbidden, Problems.Forbidden);
        var response = await fx.Api.SendAsync(HttpMethod.Post, "/admin/keys/session-id/rotate", await fx.PlatformAdminAsync());
        var rotated = await response.ReadAsync<RotatedSessionIdKey>();
        var current = rotated.KeyId;
        Assert.NotEqual(previous, current);
        Assert.Contains(rotated.Keys, k => k.Id == current && k.RetiresAt is null);
        var retiresAt = rotated.Keys.Single(k => k.Id == previous).RetiresAt!.Value;
        Assert.InRange(retiresAt - fx.Clock.Now, TimeSpan.Zero, SessionIdKeyFixture<TMode>.Overlap);

        // Through the overlap: the previous key's credential works, and new ones carry the new key id.
        Assert.Equal(HttpStatusCode.OK, (await UseAsync(during)).StatusCode);
        var fresh = await fx.Api.LoginAsync(user);
        Assert.Equal(current, KeyIdOf(Secret(fresh)));
        Assert.True(fx.Clock.Now < retiresAt, "the overlap was over before the checks inside it ran (a very slow machine)");

        // After it (plus the L1's 2 s, which may still hold an Opaque session that passed its MAC): refused. The app's
        // clock moves there at once; both the key ring and the L1 read it.
        fx.Clock.Skip(retiresAt - fx.Clock.Now + TimeSpan.FromSeconds(2.5));
        if (TMode.HasRefreshTokens) await Problem.AssertAsync(await UseAsync(after), HttpStatusCode.Unauthorized, Problems.InvalidRefreshToken);
        else await Problem.AssertAsync(await UseAsync(after), HttpStatusCode.Unauthorized, Problems.Unauthenticated);
        Assert.Equal(HttpStatusCode.OK, (await UseAsync(fresh)).StatusCode);

        var audit = await fx.Api.GetAsync<ListPage<AuditEvent>>("/admin/audit?type=session-id-key.rotated&tenant=system", await fx.Api.LoginAsync("system", "admin", AppFixture<TMode>.AdminPassword));
        Assert.Contains(audit.Items, e => e.DetailAs<SessionIdKeyRotatedDetail>().KeyId == current);
    }
}

/// <summary>Ids made before key ids existed, and the rotation command. Mode-independent (the key is the same for every mode).</summary>
public sealed class SessionIdKeyUpgradeTests(SessionIdKeyFixture<Opaque> fx) : IClassFixture<SessionIdKeyFixture<Opaque>>
{
    private async Task<string> LegacyIdAsync()
    {
        // Exactly as the previous version made ids: 32 random bytes, then 16 bytes of HMAC-SHA256 over them, under the first key.
        await using var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database));
        var row = db.ServerSecrets.Single(s => s.Name == "session-id-mac");
        var protector = fx.Factory.Services.GetRequiredService<IDataProtectionProvider>().CreateProtector(SessionSecrets.ProtectorPurpose);
        var key = Convert.FromBase64String(protector.Unprotect(row.ProtectedValue));
        var raw = new byte[48];
        RandomNumberGenerator.Fill(raw.AsSpan(0, 32));
        HMACSHA256.HashData(key, raw.AsSpan(0, 32)).AsSpan(0, 16).CopyTo(raw.AsSpan(32));
        return Base64Url.EncodeToString(raw);
    }

    private async Task SetFirstKeyActiveFromAsync(string value)
    {
        await using var conn = new NpgsqlConnection(TestEnvironment.ConnectionFor(fx.Database));
        await conn.OpenAsync();
        await using var command = new NpgsqlCommand($"UPDATE server_secrets SET \"ActiveFrom\" = {value} WHERE \"Name\" = 'session-id-mac'", conn);
        await command.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Ids_from_before_key_ids_verify_under_the_first_key_until_it_retires()
    {
        _ = fx.Api.Http; // start the app
        var secrets = fx.Factory.Services.GetRequiredService<SessionSecrets>();
        var legacy = await LegacyIdAsync();
        // A first key made by this version (it has ActiveFrom) never made such ids, so it does not take them.
        Assert.False(secrets.IsGenuine(legacy));

        // The row as the migration left a key of the previous version: no ActiveFrom.
        await SetFirstKeyActiveFromAsync("NULL");
        await secrets.ReloadAsync();
        Assert.True(secrets.IsGenuine(legacy));
        var tampered = legacy[..10] + (legacy[10] == 'A' ? 'B' : 'A') + legacy[11..];
        Assert.False(secrets.IsGenuine(tampered));

        var rotated = await fx.Api.SendAsync(HttpMethod.Post, "/admin/keys/session-id/rotate", await fx.PlatformAdminAsync());
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        Assert.True(secrets.IsGenuine(legacy), "through the overlap");
        Assert.NotEqual(0, Base64Url.DecodeFromChars(secrets.New())[0]);
        fx.Clock.Skip(SessionIdKeyFixture<Opaque>.Overlap + TimeSpan.FromSeconds(0.5));
        Assert.False(secrets.IsGenuine(legacy), "after the overlap");
    }
}

/// <summary><c>dotnet App.dll rotate-session-id-key</c>, run beside a live instance.</summary>
public sealed class SessionIdKeyCommandTests(SessionIdKeyFixture<Opaque> fx) : IClassFixture<SessionIdKeyFixture<Opaque>>
{
    [Fact]
    public async Task The_rotation_command_adds_a_key_that_running_instances_pick_up()
    {
        _ = fx.Api.Http;
        var secrets = fx.Factory.Services.GetRequiredService<SessionSecrets>();
        await using (var db = TestDatabase.NewContext(TestEnvironment.ConnectionFor(fx.Database)))
        {
            var before = await SessionSecrets.DescribeAsync(db, default);
            var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "App.dll"), "rotate-session-id-key"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            start.Environment["ConnectionStrings__Postgres"] = TestEnvironment.ConnectionFor(fx.Database);
            start.Environment["Redis__KeyPrefix"] = fx.Prefix;
            start.Environment["SessionIdKey__ActivationDelay"] = "00:00:00";
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            Assert.True(process.ExitCode == 0, await output + await errors);
            var keys = await SessionSecrets.DescribeAsync(db, default);
            Assert.Equal(before.Count + 1, keys.Count);
            var added = keys.MaxBy(k => k.ActiveFrom)!;
            Assert.DoesNotContain(before, k => k.Id == added.Id && k.ActiveFrom == added.ActiveFrom);
            await secrets.ReloadAsync();
            Assert.Equal(added.Id, Base64Url.DecodeFromChars(secrets.New())[0]);
        }
        var audit = await fx.Api.GetAsync<ListPage<AuditEvent>>("/admin/audit?tenantless=true&type=session-id-key.rotated", await fx.PlatformAdminAsync());
        Assert.Contains(audit.Items, e => e.DetailAs<SessionIdKeyRotatedDetail>().Via == "command");
    }
}
