using System.Diagnostics;
using System.Globalization;

namespace TrafficStore.Benchmarks.Store;

/// <summary>Latency samples of one query: percentiles by nearest rank over sorted samples.</summary>
internal sealed class LatencySamples
{
    private readonly List<double> _ms = new();

    public int Count => _ms.Count;
    public void Add(double ms) => _ms.Add(ms);
    public void CopyTo(LatencySamples other) => other._ms.AddRange(_ms);

    public double Percentile(double p)
    {
        if (_ms.Count == 0) return double.NaN;
        var sorted = _ms.Order().ToList();
        int rank = (int)Math.Ceiling(p / 100 * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    public double P50 => Percentile(50);
    public double P99 => Percentile(99);
    public double Max => _ms.Count == 0 ? double.NaN : _ms.Max();
}

/// <summary>Whole-process CPU time (every thread: pipeline, appender, WAL writer, flush, GC), in seconds.</summary>
internal static class ProcessCpu
{
    public static double Seconds()
    {
        using var p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalSeconds;
    }
}

internal static class Sizes
{
    /// <summary>Bytes of every file under <paramref name="dir"/>, by first path component (segments/TABLE, wal, index, ...).</summary>
    public static SortedDictionary<string, long> ByPart(string dir)
    {
        var parts = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach (var f in new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(dir, f.FullName).Split(Path.DirectorySeparatorChar);
            string key = rel.Length == 1 ? "(top-level files)" : rel[0] == "segments" && rel.Length > 2 ? "segments/" + rel[1] : rel[0];
            parts[key] = parts.GetValueOrDefault(key) + f.Length;
        }
        return parts;
    }

    /// <summary>
    /// Bytes of <c>zstd -19 -T1 -c FILE</c>, cached beside the data (zstd -19 takes minutes on
    /// 350 MB); the cache key is the file's name, length and modification time.
    /// </summary>
    public static long Zstd19(string file, string cacheDir)
    {
        var info = RealFile(file);
        file = info.FullName;
        var cache = Path.Combine(cacheDir, $"{info.Name}.{info.Length}.{info.LastWriteTimeUtc.Ticks}.zstd19-bytes");
        if (File.Exists(cache)) return long.Parse(File.ReadAllText(cache).Trim(), CultureInfo.InvariantCulture);
        Console.WriteLine($"  zstd -19 -T1 {info.Name} (once; cached in {cache})");
        var psi = new ProcessStartInfo("zstd", ["-19", "-T1", "-c", file]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var buffer = new byte[1 << 20];
        long total = 0;
        int n;
        var stdout = p.StandardOutput.BaseStream;
        while ((n = stdout.Read(buffer, 0, buffer.Length)) > 0) total += n;
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"zstd exited with {p.ExitCode}");
        Directory.CreateDirectory(cacheDir);
        File.WriteAllText(cache, total.ToString(CultureInfo.InvariantCulture));
        return total;
    }

    /// <summary>The file a path names, through symbolic links (a link's own FileInfo has the link's length; zstd skips links).</summary>
    public static FileInfo RealFile(string path) =>
        new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? new FileInfo(path);

    public static string Mb(long bytes) => (bytes / 1e6).ToString("N1", CultureInfo.InvariantCulture);
}

/// <summary>
/// Warm-up to steady state before timing: a long-running server runs its query path as tier-1 code
/// (tiered compilation: tier 0, then instrumented tier 0 with TieredPGO, then tier 1 after 30 calls
/// once 100 ms pass without new tier-0 methods, compiled on a background thread). A handful of
/// warm-up queries leaves the timed runs on tier-0 code and the JIT on the profile. So the query
/// runs in rounds until a whole round compiles no method (<see cref="System.Runtime.JitInfo"/>), at
/// least <see cref="MinRuns"/> times, and at most <see cref="MaxTime"/>.
/// </summary>
internal static class SteadyState
{
    public const int MinRuns = 100;
    public const int RoundRuns = 30;
    /// <summary>Warm-up of a query issued by <paramref name="clients"/> clients at once, one call per client (the
    /// concurrent path JITs code of its own: thread-pool growth, contended locks, HTTP/2 flow control).</summary>
    public static Task<(int Runs, bool Quiet)> WarmAsync(int clients, Func<Task> roundOfAllClients) =>
        WarmAsync(roundOfAllClients, Math.Max(5, MinRuns / clients), Math.Max(3, RoundRuns / clients));

    public static readonly TimeSpan MaxTime = TimeSpan.FromSeconds(30);

    /// <summary>Runs <paramref name="query"/> until JIT-quiet; returns the runs made and whether it got there.</summary>
    public static Task<(int Runs, bool Quiet)> WarmAsync(Func<Task> query) => WarmAsync(query, MinRuns, RoundRuns);

    private static async Task<(int Runs, bool Quiet)> WarmAsync(Func<Task> query, int minRuns, int roundRuns)
    {
        var sw = Stopwatch.StartNew();
        int runs = 0;
        while (true)
        {
            long methods = System.Runtime.JitInfo.GetCompiledMethodCount();
            for (int i = 0; i < roundRuns; i++, runs++) await query();
            // Give the background tier-1 compiler its call-counting delay before judging the round.
            await Task.Delay(150);
            bool quiet = System.Runtime.JitInfo.GetCompiledMethodCount() == methods;
            if (quiet && runs >= minRuns) return (runs, true);
            if (sw.Elapsed > MaxTime) return (runs, false);
        }
    }

    /// <summary>JIT and GC work since a mark: methods compiled and milliseconds spent, bytes allocated, collections (all threads).</summary>
    public readonly record struct JitMark(long Methods, TimeSpan Time, long Allocated, int Gen0, int Gen1, int Gen2)
    {
        public static JitMark Now() => new(System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime(),
            GC.GetTotalAllocatedBytes(precise: true), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));

        /// <summary>Bytes allocated per query since the mark.</summary>
        public double AllocatedPerQuery(int queries) => (GC.GetTotalAllocatedBytes(precise: true) - Allocated) / (double)queries;

        public string Since(int queries) =>
            $"{System.Runtime.JitInfo.GetCompiledMethodCount() - Methods} methods JIT-compiled ({(System.Runtime.JitInfo.GetCompilationTime() - Time).TotalMilliseconds:F0} ms) while timed; " +
            $"{AllocatedPerQuery(queries) / 1024:F0} KiB allocated/query; GCs gen0/1/2 {GC.CollectionCount(0) - Gen0}/{GC.CollectionCount(1) - Gen1}/{GC.CollectionCount(2) - Gen2}";
    }
}

/// <summary>
/// CPU seconds of the runtime's own threads, read from <c>/proc/self/task</c> (Linux; clock ticks, 10 ms): the tiered
/// compiler's background thread and the GC's threads. A timed phase's whole-process CPU includes them. Per thread id,
/// so a thread that exits (the tiered compiler's worker does when idle) and a new one started meanwhile both count
/// what they ran within the phase (a thread that exited before the phase ended loses its last part).
/// </summary>
internal sealed class RuntimeThreadCpu
{
    private readonly Dictionary<string, (bool Jit, double Seconds)> _threads;

    private RuntimeThreadCpu(Dictionary<string, (bool Jit, double Seconds)> threads) => _threads = threads;

    public static RuntimeThreadCpu Now()
    {
        var threads = new Dictionary<string, (bool, double)>();
        if (!Directory.Exists("/proc/self/task")) return new(threads);
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                string comm = File.ReadAllText(Path.Combine(task, "comm")).Trim();
                bool jit = comm.StartsWith(".NET Tiered", StringComparison.Ordinal);
                if (!jit && !comm.Contains("GC", StringComparison.Ordinal)) continue;
                string stat = File.ReadAllText(Path.Combine(task, "stat"));
                // Fields after the ")" that ends comm start at field 3 (state); utime is field 14, stime 15.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                double seconds = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
                threads[Path.GetFileName(task)] = (jit, seconds);
            }
            catch (IOException) { } // the thread exited
        }
        return new(threads);
    }

    /// <summary>CPU seconds since <paramref name="start"/>: the tiered compiler's thread(s), the GC's.</summary>
    public (double Jit, double Gc) Since(RuntimeThreadCpu start)
    {
        double jit = 0, gc = 0;
        foreach (var (tid, (isJit, seconds)) in _threads)
        {
            double ran = seconds - (start._threads.TryGetValue(tid, out var s) ? s.Seconds : 0);
            if (isJit) jit += ran; else gc += ran;
        }
        return (jit, gc);
    }
}
