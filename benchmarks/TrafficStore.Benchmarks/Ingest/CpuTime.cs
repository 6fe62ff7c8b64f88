using System.Runtime.InteropServices;

namespace TrafficStore.Benchmarks.Ingest;

/// <summary>
/// CPU time in seconds from the OS, so throughput is per core even when the machine is shared:
/// this thread's (the pipeline is single-threaded) with nanosecond resolution, and that of
/// finished child processes (tshark). Linux only, like the rest of the benchmark's tooling.
/// </summary>
internal static partial class CpuTime
{
    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID
    private const int RusageChildren = -1;    // RUSAGE_CHILDREN

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec { public long Seconds; public long Nanoseconds; }

    [StructLayout(LayoutKind.Sequential)]
    private struct Rusage
    {
        public long UserSeconds, UserMicroseconds, SystemSeconds, SystemMicroseconds;
        public long MaxRss, IxRss, IdRss, IsRss, MinFlt, MajFlt, NSwap, InBlock, OuBlock, MsgSnd, MsgRcv, NSignals, NVcsw, NIvcsw;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);

    [LibraryImport("libc", EntryPoint = "getrusage")]
    private static partial int GetRusage(int who, out Rusage usage);

    public static double Thread() =>
        ClockGetTime(ClockThreadCpuTime, out var t) == 0 ? t.Seconds + t.Nanoseconds / 1e9 : double.NaN;

    public static double Children() =>
        GetRusage(RusageChildren, out var u) == 0
            ? u.UserSeconds + u.SystemSeconds + (u.UserMicroseconds + u.SystemMicroseconds) / 1e6
            : double.NaN;
}
