using System.Diagnostics;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;
using SessionGate.Auth;
using SessionGate.Data;
using SessionGate.Sessions;

namespace SessionGate.Bench.Scale;

/// <summary>A seeded user as its sessions' Redis entries need it.</summary>
public sealed record SeedUser(Guid Id, Guid TenantId, string Username, long Version, Guid[] RoleIds, long SessionEpoch = 0);

/// <summary>
/// Creates tenants, users and live sessions in bulk, through the app's own code: session ids from
/// <see cref="SessionSecrets.New"/> (so they pass the MAC check), <see cref="Session"/> rows with
/// <c>SecretHash = SessionSecrets.Hash(id)</c> as <see cref="OpaqueMode"/> stores them, expiries from
/// <see cref="SessionLifetimeOptions.NextIdleExpiry"/>, and Redis entries written by
/// <see cref="RedisStore.WriteSessionAsync"/> under <see cref="RedisStore.OpaqueKey"/> with
/// <see cref="SessionEntry.Of"/> of <see cref="SessionReader.ToSnapshot"/>, as a login writes them. Only the password
/// check is skipped: one real PBKDF2 hash (210,000 iterations) is computed once and shared by the seeded users.
/// </summary>
public static class Seeder
{
    public const string SlugPrefix = "scale-";
    public const string BigTenant = "scale-000";
    public const string HeavyUser = "heavy";
    public const string Password = "scale-password-123";

    private static readonly string[] Agents =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        "okhttp/4.12.0",
    ];

    public static async Task<int> SeedAsync(Args args)
    {
        var add = int.Parse(args.Required("add"), System.Globalization.CultureInfo.InvariantCulture);
        var credentials = args.Required("credentials");
        var lifetime = Lifetime(args);
        await using var app = await AppParts.CreateAsync(args);
        var rng = new Random(args.Int("random-seed", 42) + add);

        var watch = Stopwatch.StartNew();
        var users = await LoadOrCreateUsersAsync(app, args);
        var regular = users.Where(u => u.Username != HeavyUser && u.Username.StartsWith('u')).ToArray();
        Program.Emit("users", users.Count);
        Program.Emit("users_seconds", Math.Round(watch.Elapsed.TotalSeconds, 1));

        watch.Restart();
        var opened = await OpenSessionsAsync(app, add, args.Int("chunk", 50_000), credentials, lifetime, rng, (r, now) =>
        {
            var user = regular[r.Next(regular.Length)];
            // Logged in between 10 minutes and 4 hours ago, last seen within the last 10 minutes.
            var created = now - TimeSpan.FromSeconds(r.Next(600, 4 * 3600));
            var lastSeen = now - TimeSpan.FromSeconds(r.Next(0, 600));
            return (user, created, lastSeen);
        });
        Program.Emit("sessions_added", opened);
        Program.Emit("sessions_seconds", Math.Round(watch.Elapsed.TotalSeconds, 1));
        return 0;
    }

    public static async Task<int> HeavyAsync(Args args)
    {
        await using var app = await AppParts.CreateAsync(args);
        var (user, credentials) = await OpenHeavyAsync(app, args.Int("count", 1000), Lifetime(args));
        if (args.Optional("credentials") is { } path) await File.WriteAllLinesAsync(path, credentials);
        Program.Emit("heavy_user_id", user.Id);
        Program.Emit("sessions_added", credentials.Count);
        return 0;
    }

    public static SessionLifetimeOptions Lifetime(Args args) => new()
    {
        IdleTimeout = args.Time("idle-timeout", TimeSpan.FromHours(2)),
        AbsoluteTimeout = args.Time("absolute-timeout", TimeSpan.FromHours(12)),
    };

    /// <summary>Opens <paramref name="count"/> sessions for the heavy user, at its current security version and roles.</summary>
    public static async Task<(SeedUser User, List<string> Credentials)> OpenHeavyAsync(AppParts app, int count, SessionLifetimeOptions lifetime)
    {
        var user = await LoadHeavyAsync(app);
        var credentials = new List<string>(count);
        var rng = new Random();
        await OpenSessionsAsync(app, count, count, null, lifetime, rng, (r, now) =>
            (user, now - TimeSpan.FromSeconds(r.Next(1, 600)), now), credentials);
        return (user, credentials);
    }

    public static async Task<SeedUser> LoadHeavyAsync(AppParts app)
    {
        await using var db = app.NewDb();
        var user = await (from u in db.Users.AsNoTracking()
                          join t in db.Tenants on u.TenantId equals t.Id
                          where t.Slug == BigTenant && u.NormalizedUsername == HeavyUser
                          select new { u.Id, u.TenantId, u.Username, u.SecurityVersion, u.SessionEpoch }).FirstOrDefaultAsync()
                   ?? throw new BenchException($"no user {BigTenant}/{HeavyUser}: run seed first");
        var roles = await SessionReader.LoadRoleIdsAsync(db, [user.Id], CancellationToken.None);
        return new SeedUser(user.Id, user.TenantId, user.Username, user.SecurityVersion, roles.GetValueOrDefault(user.Id, []), user.SessionEpoch);
    }

    // ---- Tenants, roles, users --------------------------------------------------------------------------------------

    private static async Task<List<SeedUser>> LoadOrCreateUsersAsync(AppParts app, Args args)
    {
        await using (var db = app.NewDb())
        {
            if (!await db.Tenants.AnyAsync(t => t.Slug == BigTenant)) await CreateUsersAsync(app, args);
        }
        await using var read = app.NewDb();
        var tenantIds = await read.Tenants.AsNoTracking().Where(t => t.Slug.StartsWith(SlugPrefix)).Select(t => t.Id).ToListAsync();
        var users = await read.Users.AsNoTracking().Where(u => tenantIds.Contains(u.TenantId))
            .Select(u => new { u.Id, u.TenantId, u.Username, u.SecurityVersion, u.SessionEpoch }).ToListAsync();
        var roles = (await (from ur in read.UserRoles.AsNoTracking()
                            join u in read.Users on ur.UserId equals u.Id
                            where tenantIds.Contains(u.TenantId)
                            select new { ur.UserId, ur.RoleId }).ToListAsync())
            .GroupBy(r => r.UserId).ToDictionary(g => g.Key, g => g.Select(r => r.RoleId).Order().ToArray());
        // Sorted as SessionReader.LoadRoleIdsAsync sorts them, so entries match what the app would rebuild.
        return users.Select(u => new SeedUser(u.Id, u.TenantId, u.Username, u.SecurityVersion, roles.GetValueOrDefault(u.Id, []), u.SessionEpoch)).ToList();
    }

    private static async Task CreateUsersAsync(AppParts app, Args args)
    {
        var tenantCount = args.Int("tenants", 100);
        var userCount = args.Int("users", 100_000);
        var bigShare = args.Double("big-share", 0.5);
        if (tenantCount < 2 || userCount < tenantCount) throw new UsageException("need at least 2 tenants and one user per tenant");
        var now = DateTimeOffset.UtcNow;

        var tenants = Enumerable.Range(0, tenantCount)
            .Select(i => new Tenant { Slug = $"{SlugPrefix}{i:D3}", Name = $"Scale tenant {i}", CreatedAt = now }).ToList();
        var roles = new List<Role>();
        var roleIds = new Dictionary<(Guid Tenant, string Name), Guid>();
        foreach (var t in tenants)
        {
            foreach (var (name, permissions) in new (string, string[])[] { ("admin", Permissions.TenantAdmin), ("reporter", [Permissions.ReportsRead]), ("user", []) })
            {
                var role = new Role { TenantId = t.Id, Name = name, Permissions = [.. permissions], CreatedAt = now };
                roles.Add(role);
                roleIds[(t.Id, name)] = role.Id;
            }
        }

        // One real hash (PasswordHasher at the app's 210,000 iterations), shared: 100,000 of them would take an hour.
        var hasher = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = PasswordPolicy.Iterations }));
        var hash = hasher.HashPassword(null!, Password);

        var users = new List<User>(userCount);
        var userRoles = new List<UserRole>(userCount + userCount / 10);
        var bigUsers = (int)(userCount * bigShare);
        for (var i = 0; i < userCount; i++)
        {
            // User 0 is the heavy user (1,000 sessions, for kick-all); half the users are in the big tenant.
            var tenant = i < Math.Max(1, bigUsers) ? tenants[0] : tenants[1 + i % (tenantCount - 1)];
            var name = i == 0 ? HeavyUser : $"u{i:D6}";
            var user = new User { TenantId = tenant.Id, Username = name, NormalizedUsername = name, PasswordHash = hash, CreatedAt = now };
            users.Add(user);
            // Roles spread: 1% admins, 10% reporters (with the plain role too), everyone else the plain role.
            if (i != 0 && i % 100 == 0) userRoles.Add(new UserRole { UserId = user.Id, RoleId = roleIds[(tenant.Id, "admin")] });
            else userRoles.Add(new UserRole { UserId = user.Id, RoleId = roleIds[(tenant.Id, "user")] });
            if (i % 10 == 1) userRoles.Add(new UserRole { UserId = user.Id, RoleId = roleIds[(tenant.Id, "reporter")] });
        }

        await using var connection = await app.OpenAsync();
        await using var tx = await connection.BeginTransactionAsync();
        EntityCopy.Copy(connection, app.Model, tenants);
        EntityCopy.Copy(connection, app.Model, roles);
        EntityCopy.Copy(connection, app.Model, users);
        EntityCopy.Copy(connection, app.Model, userRoles);
        await tx.CommitAsync();
        Program.Log($"created {tenantCount} tenants, {roles.Count} roles, {userCount} users ({bigUsers} in {BigTenant}), {userRoles.Count} role grants");
    }

    // ---- Sessions ---------------------------------------------------------------------------------------------------

    /// <summary>
    /// Opens sessions chunk by chunk: COPY a chunk into PostgreSQL, then write its Redis entries while the next chunk
    /// is copied (PostgreSQL first, as the app does). Ids are appended to <paramref name="credentialsPath"/> and/or
    /// <paramref name="collect"/> once both stores hold them.
    /// </summary>
    private static async Task<long> OpenSessionsAsync(AppParts app, int count, int chunkSize, string? credentialsPath, SessionLifetimeOptions lifetime,
        Random rng, Func<Random, DateTimeOffset, (SeedUser User, DateTimeOffset Created, DateTimeOffset LastSeen)> pick, List<string>? collect = null)
    {
        await using var connection = await app.OpenAsync();
        await using var file = credentialsPath is null ? null : new StreamWriter(credentialsPath, append: true);
        Task redisPending = Task.CompletedTask;
        string[]? pendingIds = null;
        long done = 0;
        var watch = Stopwatch.StartNew();
        while (done < count)
        {
            var n = (int)Math.Min(chunkSize, count - done);
            var now = DateTimeOffset.UtcNow;
            var batch = new (Session Row, SeedUser User, string Id)[n];
            for (var i = 0; i < n; i++)
            {
                var (user, created, lastSeen) = pick(rng, now);
                var id = app.Secrets.New();
                var absolute = created + lifetime.AbsoluteTimeout;
                batch[i] = (new Session
                {
                    Id = Guid.CreateVersion7(created),
                    SecretHash = SessionSecrets.Hash(id),
                    UserId = user.Id,
                    UserEpoch = user.SessionEpoch,
                    TenantId = user.TenantId,
                    DeviceType = DeviceTypes.All[rng.Next(DeviceTypes.All.Length)],
                    Ip = $"10.{rng.Next(256)}.{rng.Next(256)}.{rng.Next(1, 255)}",
                    UserAgent = Agents[rng.Next(Agents.Length)],
                    CreatedAt = created,
                    LastSeenAt = lastSeen,
                    IdleExpiresAt = lifetime.NextIdleExpiry(lastSeen, absolute),
                    AbsoluteExpiresAt = absolute,
                }, user, id);
            }
            // Id order (creation order, v7): the primary key grows at its right edge as it does in production.
            Array.Sort(batch, (a, b) => a.Row.Id.CompareTo(b.Row.Id));

            EntityCopy.Copy(connection, app.Model, batch.Select(b => b.Row));
            await redisPending;
            await FlushAsync(pendingIds, file, collect);
            pendingIds = batch.Select(b => b.Id).ToArray();
            redisPending = WriteRedisAsync(app, batch);
            done += n;
            if (count > chunkSize)
                Program.Log($"sessions: {done:N0}/{count:N0} ({done / Math.Max(0.001, watch.Elapsed.TotalSeconds):N0}/s)");
        }
        await redisPending;
        await FlushAsync(pendingIds, file, collect);
        return done;
    }

    private static async Task WriteRedisAsync(AppParts app, (Session Row, SeedUser User, string Id)[] batch)
    {
        var now = DateTimeOffset.UtcNow;
        var writes = new Task[batch.Length];
        for (var i = 0; i < batch.Length; i++)
        {
            var (row, user, _) = batch[i];
            var snapshot = SessionReader.ToSnapshot(row, user.Username, user.RoleIds, user.Version);
            // What ServerSessionMode.AfterIssueAsync does after a login.
            writes[i] = app.Store.WriteSessionAsync(app.Store.OpaqueKey(row.SecretHash), SessionEntry.Of(snapshot), snapshot.RemainingLife(now));
        }
        await Task.WhenAll(writes);
    }

    private static async Task FlushAsync(string[]? ids, StreamWriter? file, List<string>? collect)
    {
        if (ids is null) return;
        collect?.AddRange(ids);
        if (file is null) return;
        foreach (var id in ids) await file.WriteLineAsync(id);
        await file.FlushAsync();
    }
}

/// <summary>Disjoint random samples of a credentials file.</summary>
public static class Sampler
{
    public static int Run(Args args)
    {
        var lines = File.ReadAllLines(args.Required("from")).Where(l => l.Length > 0).ToArray();
        var outputs = args.All("out").Select(o =>
        {
            var eq = o.LastIndexOf('=');
            if (eq < 1) throw new UsageException($"--out wants PATH=N, got '{o}'");
            return (Path: o[..eq], Count: int.Parse(o[(eq + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        }).ToList();
        var wanted = outputs.Sum(o => o.Count);
        if (wanted > lines.Length) throw new BenchException($"samples want {wanted} lines, {args.Required("from")} has {lines.Length}");
        var rng = new Random(args.Int("random-seed", 7));
        // Partial Fisher-Yates: the first `wanted` lines become a uniform random sample without repeats.
        for (var i = 0; i < wanted; i++)
        {
            var j = rng.Next(i, lines.Length);
            (lines[i], lines[j]) = (lines[j], lines[i]);
        }
        var at = 0;
        foreach (var (path, n) in outputs)
        {
            File.WriteAllLines(path, lines.AsSpan(at, n).ToArray());
            at += n;
            Program.Emit($"sample[{Path.GetFileName(path)}]", n);
        }
        Program.Emit("population", lines.Length);
        return 0;
    }
}
