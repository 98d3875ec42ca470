using System.Runtime.InteropServices;

namespace SessionGate.Auth;

/// <summary>What a hashing worker asks of its own thread: a lower CPU weight, and the CPU it has used.</summary>
internal static class HashingThreads
{
    // Linux: a niceness for this thread only (a thread is a task to the scheduler), which is a CPU weight against the
    // request threads at nice 0; raising one's own niceness needs no privilege. Elsewhere the .NET priority.
    internal static void LowerPriority(int niceness)
    {
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                if (niceness > 0) Thread.CurrentThread.Priority = ThreadPriority.BelowNormal;
                return;
            }
            _ = SetPriority(0, GetThreadId(), niceness);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            if (niceness > 0) Thread.CurrentThread.Priority = ThreadPriority.BelowNormal;
        }
    }

    // The CPU this thread has used, in ms: the share is about CPU, so a hash preempted for long costs only what it
    // ran. Linux: CLOCK_THREAD_CPUTIME_ID; elsewhere wall time, which is never less.
    internal static double ThreadCpuMs()
    {
        try
        {
            if (OperatingSystem.IsLinux() && ClockGetTime(3, out var t) == 0) return t.Seconds * 1000.0 + t.Nanoseconds / 1e6;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return Environment.TickCount64;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    [DllImport("libc", EntryPoint = "setpriority")]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();
}
