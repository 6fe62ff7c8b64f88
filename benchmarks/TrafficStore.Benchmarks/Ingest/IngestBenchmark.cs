using System.Diagnostics;
using System.Globalization;
using System.Text;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Synthetic;

namespace TrafficStore.Benchmarks.Ingest;

/// <summary>
/// <c>TrafficStore.Benchmarks ingest</c>: throughput of the ingest pipeline on large captures, as
/// ratios measured in one process and one run. Stages, each a full pass over the file:
/// read (iterate frames: the ceiling), decode (read + link/IP/TCP/UDP decode), analysis (read +
/// decode + flows + TCP analysis + reassembly, no L7), l7 (the same plus every L7 protocol the
/// ingest assembly has), and tshark 4 <c>-q -z conv,tcp</c> on the same file back to back.
/// Each round runs every stage once; the best and the median round are reported, as wall-clock
/// and as CPU time (the machine may be shared: CPU time is what one core spent).
/// </summary>
public static class IngestBenchmark
{
    public static int Run(string[] args)
    {
        var inputs = Values(args, "--input");
        bool corpus = args.Contains("--corpus"), synthetic = args.Contains("--synthetic");
        if (inputs.Count == 0 && !corpus && !synthetic) corpus = synthetic = true;
        long sizeBytes = (long)(double.Parse(Value(args, "--size-mb") ?? "350", CultureInfo.InvariantCulture) * 1_000_000);
        int repeat = int.Parse(Value(args, "--repeat") ?? "3", CultureInfo.InvariantCulture);
        var stages = (Value(args, "--stages") ?? "read,decode,analysis,l7,tshark").Split(',').ToHashSet();
        if (args.Contains("--no-tshark")) stages.Remove("tshark");
        if (args.Contains("--no-l7")) stages.Remove("l7");
        string dataDir = Value(args, "--data") ?? Path.Combine(FindRepoRoot(), "benchmarks", "data");
        string? markdown = Value(args, "--markdown");
        if (Value(args, "--buffer-kb") is { } kb) StageRunner.FileOptions = StageRunner.FileOptions with { BufferSize = int.Parse(kb, CultureInfo.InvariantCulture) * 1024 };
        Directory.CreateDirectory(dataDir);

        var files = new List<(string Label, string Path)>();
        if (corpus)
        {
            var shared = Path.Combine(FindRepoRoot(), "..", "shared");
            files.Add(("corpus", CorpusCaptureBuilder.Build(shared, Path.Combine(dataDir, $"corpus-{sizeBytes / 1_000_000}mb.pcapng"), sizeBytes, Console.Out)));
        }
        if (synthetic) files.Add(("synthetic", BuildSynthetic(Path.Combine(dataDir, $"synthetic-{sizeBytes / 1_000_000}mb.pcap"), sizeBytes)));
        foreach (var i in inputs) files.Add((Path.GetFileName(i), i));

        var protocols = L7Protocols.Discover();
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {LoadAverage()}; .NET {Environment.Version}; " +
                          $"L7 protocols: {(protocols.Names.Count == 0 ? "none in this build" : string.Join(", ", protocols.Names))}");
        var report = new StringBuilder();
        foreach (var (label, path) in files)
        {
            if (protocols.Names.Count == 0) stages.Remove("l7");
            var results = Measure(label, path, repeat, stages);
            report.Append(results);
        }
        Console.WriteLine();
        Console.WriteLine(report);
        if (markdown is not null) File.WriteAllText(markdown, report.ToString());
        return 0;
    }

    private static string Measure(string label, string path, int repeat, HashSet<string> stages)
    {
        long fileBytes = new FileInfo(path).Length;
        Console.WriteLine($"== {label}: {path} ({fileBytes / 1e6:F0} MB)");
        StageRunner.ReadOnly(path); // warm the page cache and the JIT
        var runs = new Dictionary<string, List<StageResult>>();
        void Add(StageResult r)
        {
            if (!runs.TryGetValue(r.Stage, out var list)) runs[r.Stage] = list = new();
            list.Add(r);
            Console.WriteLine($"  {r.Stage,-9} {r.Seconds,7:F2} s wall {r.CpuSeconds,7:F2} s cpu  {fileBytes / r.CpuSeconds / 1e6,8:F0} MB/s cpu  " +
                              $"{r.Frames / r.CpuSeconds / 1e6,6:F2} Mpkt/s  {r.AllocatedBytes / (double)Math.Max(r.Frames, 1),7:F2} B/pkt" +
                              (r.Exchanges > 0 ? $"  {r.Exchanges:N0} exchanges, {r.L7AllocatedPerExchange:F0} B/exchange more than analysis" : "") +
                              $"  (load {LoadAverage()})");
        }
        for (int round = 0; round < repeat; round++)
        {
            Console.WriteLine($" round {round + 1}/{repeat}");
            if (stages.Contains("read")) Add(StageRunner.ReadOnly(path));
            if (stages.Contains("decode")) Add(StageRunner.DecodeOnly(path));
            var analysis = StageRunner.Analysis(path, null);
            if (stages.Contains("analysis")) Add(analysis);
            if (stages.Contains("l7"))
            {
                var withL7 = StageRunner.Analysis(path, L7Protocols.Discover());
                withL7 = withL7 with
                {
                    L7AllocatedPerExchange = withL7.Exchanges == 0 ? 0 : (withL7.AllocatedBytes - analysis.AllocatedBytes) / (double)withL7.Exchanges,
                };
                Add(withL7);
            }
            if (stages.Contains("tshark")) Add(StageRunner.Tshark(path, analysis.Frames));
        }
        return Table(label, path, fileBytes, runs);
    }

    private static string Table(string label, string path, long fileBytes, Dictionary<string, List<StageResult>> runs)
    {
        var sb = new StringBuilder();
        var first = runs.Values.First()[0];
        long connections = runs.TryGetValue("analysis", out var a) ? a[0].Connections : 0;
        sb.AppendLine($"### {label}: {Path.GetFileName(path)}, {fileBytes / 1e6:F0} MB, {first.Frames:N0} frames, {connections:N0} TCP connections + UDP flows");
        sb.AppendLine();
        sb.AppendLine("| stage | MB/s per core (CPU, best / median) | Mpackets/s (CPU, best) | MB/s wall (best / median) | × tshark (CPU, best / median) | allocated per packet | per exchange |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        runs.TryGetValue("tshark", out var tsharkRuns);
        double tsharkBestCpu = tsharkRuns is null ? 0 : tsharkRuns.Min(r => r.CpuSeconds);
        double tsharkMedianCpu = tsharkRuns is null ? 0 : Median(tsharkRuns.Select(r => r.CpuSeconds));
        foreach (var (stage, list) in runs)
        {
            double bestCpu = list.Min(r => r.CpuSeconds), medianCpu = Median(list.Select(r => r.CpuSeconds));
            double bestWall = list.Min(r => r.Seconds), medianWall = Median(list.Select(r => r.Seconds));
            var last = list[^1];
            string ratio = tsharkRuns is null ? "–" : stage == "tshark" ? "1" : $"{tsharkBestCpu / bestCpu:F0}× / {tsharkMedianCpu / medianCpu:F0}×";
            string alloc = stage == "tshark" ? "–" : $"{last.AllocatedBytes / (double)Math.Max(last.Frames, 1):F2} B";
            string perExchange = last.Exchanges > 0 ? $"{last.L7AllocatedPerExchange:F0} B ({last.Exchanges:N0} exchanges)" : "–";
            sb.AppendLine($"| {stage} | {fileBytes / bestCpu / 1e6:F0} / {fileBytes / medianCpu / 1e6:F0} | {last.Frames / bestCpu / 1e6:F2} | " +
                          $"{fileBytes / bestWall / 1e6:F0} / {fileBytes / medianWall / 1e6:F0} | {ratio} | {alloc} | {perExchange} |");
        }
        sb.AppendLine();
        return sb.ToString();
    }

    internal static string BuildSynthetic(string path, long targetBytes)
    {
        if (File.Exists(path) && TrafficStore.Benchmarks.Store.Sizes.RealFile(path).Length >= targetBytes)
        {
            Console.WriteLine($"using existing {path} ({TrafficStore.Benchmarks.Store.Sizes.RealFile(path).Length / 1e6:F0} MB)");
            return path;
        }
        Console.WriteLine($"generating {path} (synthetic cluster traffic, seed 1, {targetBytes / 1e6:F0} MB)");
        var tmp = path + ".tmp";
        TrafficGenerator.GenerateToFile(tmp, new TrafficGeneratorOptions { TargetBytes = targetBytes });
        File.Move(tmp, path, overwrite: true);
        return path;
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }

    internal static string LoadAverage()
    {
        try { return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
        catch (IOException) { return "?"; }
    }

    internal static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "TrafficStore.sln")) || File.Exists(Path.Combine(dir.FullName, "TrafficStore.slnx")))
                return dir.FullName;
        return Directory.GetCurrentDirectory();
    }

    private static string? Value(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static List<string> Values(string[] args, string name)
    {
        var list = new List<string>();
        for (int i = 0; i + 1 < args.Length; i++)
            if (args[i] == name) list.Add(args[i + 1]);
        return list;
    }
}

/// <summary>One timed pass of one stage over one file.</summary>
internal sealed record StageResult(string Stage, double Seconds, double CpuSeconds, long Frames, long AllocatedBytes,
    long Connections = 0, long Exchanges = 0, double L7AllocatedPerExchange = 0);

/// <summary>The stages. Each opens the file afresh, so every pass includes the read.</summary>
internal static class StageRunner
{
    /// <summary>How captures are opened (<c>--buffer-kb N</c> sets the read buffer).</summary>
    public static CaptureFileOptions FileOptions { get; set; } = CaptureFileOptions.Default;

    public static StageResult ReadOnly(string path)
    {
        var clock = Clock.Start();
        using var source = CaptureFile.Open(path, FileOptions);
        var frame = new CaptureFrame();
        long frames = 0, checksum = 0;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            frames++;
            checksum += frame.Data.Length;
        }
        GC.KeepAlive(checksum);
        return clock.Stop("read", frames);
    }

    public static StageResult DecodeOnly(string path)
    {
        var clock = Clock.Start();
        using var source = CaptureFile.Open(path, FileOptions);
        var decoder = new PacketDecoder();
        var frame = new CaptureFrame();
        long frames = 0, checksum = 0;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            frames++;
            if (decoder.Decode(frame, out var packet, out var payload) == DecodeStatus.Decoded)
                checksum += packet.SourcePort + payload.Length;
        }
        decoder.FinishCapture();
        GC.KeepAlive(checksum);
        return clock.Stop("decode", frames);
    }

    public static StageResult Analysis(string path, L7Protocols? protocols)
    {
        var clock = Clock.Start();
        var rows = new CountingSink<ConnectionRecord>();
        using var source = CaptureFile.Open(path, FileOptions);
        var pipeline = new IngestPipeline(rows, protocols?.Stream, protocols?.Datagram);
        var result = pipeline.Run(source);
        var r = clock.Stop(protocols is null ? "analysis" : "l7", result.Frames);
        return r with { Connections = rows.Count, Exchanges = protocols?.RowCount ?? 0 };
    }

    public static StageResult Tshark(string path, long frames)
    {
        var psi = new ProcessStartInfo("tshark") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "-q", "-z", "conv,tcp", "-r", path }) psi.ArgumentList.Add(a);
        var sw = Stopwatch.StartNew();
        var childCpu = CpuTime.Children();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start tshark");
        var stderr = p.StandardError.ReadToEndAsync();
        long outputChars = p.StandardOutput.ReadToEnd().Length;
        p.WaitForExit();
        sw.Stop();
        double cpu = CpuTime.Children() - childCpu; // user + system time of the reaped tshark
        if (p.ExitCode != 0 || outputChars == 0)
            Console.Error.WriteLine($"tshark exited with {p.ExitCode}: {stderr.Result}");
        return new StageResult("tshark", sw.Elapsed.TotalSeconds, cpu, frames, 0);
    }

    /// <summary>Wall clock, this thread's allocations and this process's CPU time over one stage.</summary>
    private readonly struct Clock
    {
        private readonly long _startTicks;
        private readonly long _startAllocated;
        private readonly double _startCpu;

        private Clock(long ticks, long allocated, double cpu) { _startTicks = ticks; _startAllocated = allocated; _startCpu = cpu; }

        public static Clock Start()
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            return new Clock(Stopwatch.GetTimestamp(), GC.GetAllocatedBytesForCurrentThread(), CpuTime.Thread());
        }

        public StageResult Stop(string stage, long frames)
        {
            long allocated = GC.GetAllocatedBytesForCurrentThread() - _startAllocated;
            double seconds = Stopwatch.GetElapsedTime(_startTicks).TotalSeconds;
            double cpu = CpuTime.Thread() - _startCpu;
            return new StageResult(stage, seconds, cpu, frames, allocated);
        }
    }
}
