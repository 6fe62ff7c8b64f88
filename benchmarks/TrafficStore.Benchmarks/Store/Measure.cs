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
        var info = new FileInfo(file);
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

    public static string Mb(long bytes) => (bytes / 1e6).ToString("N1", CultureInfo.InvariantCulture);
}
