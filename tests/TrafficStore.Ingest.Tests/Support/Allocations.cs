namespace TrafficStore.Ingest.Tests.Support;

/// <summary>
/// Measures what a hot path allocates on the calling thread. The least of a few rounds is what counts: the first round can
/// carry one-off allocations that are not the path's own (the JIT replacing the running loop with its optimized version on
/// this thread, a runtime type loaded on first use), which shows up as a few KB once under a loaded test run. A path that
/// really allocates per call allocates in every round, so the minimum still catches it.
/// </summary>
internal static class Allocations
{
    public static long LeastOf(int rounds, Action round)
    {
        long least = long.MaxValue;
        for (int i = 0; i < rounds && least > 0; i++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            round();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        return least;
    }

    /// <summary>
    /// As <see cref="LeastOf(int, Action)"/> for a path that needs fresh state each round (a source read from its start, an
    /// empty pipeline): <paramref name="setup"/> makes it outside the measurement, and it is disposed after the round, also
    /// outside it.
    /// </summary>
    public static long LeastOf<T>(int rounds, Func<T> setup, Action<T> round)
    {
        long least = long.MaxValue;
        for (int i = 0; i < rounds && least > 0; i++)
        {
            var state = setup();
            try
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                round(state);
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            finally { (state as IDisposable)?.Dispose(); }
        }
        return least;
    }
}
