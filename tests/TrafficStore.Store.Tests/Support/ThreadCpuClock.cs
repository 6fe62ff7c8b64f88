using System.Diagnostics;
using System.Runtime.InteropServices;

namespace TrafficStore.Store.Tests.Support;

/// <summary>
/// CPU time the calling thread has used, for asserts that work is bounded ("refused without inflating 32 GiB", "no query
/// takes seconds to parse"). Wall time counts every other process on a loaded 2-core CI machine and every pause of the
/// test host: a bound on it fails now and then with no change in the code. The thread's own CPU time only grows while it
/// runs, so the same bound holds under any load. Linux (CI) reads it with clock_gettime(CLOCK_THREAD_CPUTIME_ID); elsewhere
/// it falls back to wall time.
/// </summary>
internal static partial class ThreadCpuClock
{
    private const int ClockThreadCpuTimeId = 3; // <linux/time.h> CLOCK_THREAD_CPUTIME_ID

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    /// <summary>The calling thread's CPU time so far (wall time where it cannot be read).</summary>
    public static TimeSpan Now()
    {
        if (OperatingSystem.IsLinux() && ClockGetTime(ClockThreadCpuTimeId, out var t) == 0)
            return TimeSpan.FromTicks(t.Seconds * TimeSpan.TicksPerSecond + t.Nanoseconds / 100);
        return Stopwatch.GetElapsedTime(0);
    }

    /// <summary>CPU time the calling thread spends in <paramref name="action"/> (which must run on it: no awaits).</summary>
    public static TimeSpan Measure(Action action)
    {
        var start = Now();
        action();
        return Now() - start;
    }
}
