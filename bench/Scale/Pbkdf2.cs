using System.Diagnostics;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using SessionGate.Auth;
using SessionGate.Data;

namespace SessionGate.Bench.Scale;

/// <summary>
/// The CPU one password check costs: the app's <see cref="PasswordHasher{TUser}"/> at
/// <see cref="PasswordPolicy.Iterations"/>, verifying a right password on one thread. CPU time, not wall time, so a
/// busy machine changes how long it takes, not what it costs. 1000 / (ms per check) is the ceiling of logins per core.
/// </summary>
public static class Pbkdf2
{
    public static int Run(Args args)
    {
        var count = args.Int("count", 20);
        var hasher = new PasswordHasher<User>(Options.Create(new PasswordHasherOptions { IterationCount = PasswordPolicy.Iterations }));
        var hash = hasher.HashPassword(null!, Seeder.Password);
        hasher.VerifyHashedPassword(null!, hash, Seeder.Password); // JIT and first-use costs out of the way

        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            if (hasher.VerifyHashedPassword(null!, hash, Seeder.Password) == PasswordVerificationResult.Failed)
                throw new BenchException("the right password failed to verify");
        }
        process.Refresh();
        var cpuMs = (process.TotalProcessorTime - cpu0).TotalMilliseconds / count;
        Program.Emit("iterations", PasswordPolicy.Iterations);
        Program.Emit("verify_cpu_ms", Math.Round(cpuMs, 1));
        Program.Emit("verify_wall_ms", Math.Round(wall.Elapsed.TotalMilliseconds / count, 1));
        Program.Emit("verifies_per_core_s", Math.Round(1000 / cpuMs, 1));
        return 0;
    }
}
