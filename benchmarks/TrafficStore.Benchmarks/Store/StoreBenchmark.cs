using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Apache.Arrow;
using TrafficStore.Benchmarks.Ingest;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Synthetic;
using TrafficStore.Kubernetes.Snapshot;
using TrafficStore.Store;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;

namespace TrafficStore.Benchmarks.Store;

/// <summary>
/// <c>TrafficStore.Benchmarks store</c> (issue 5), two phases:
/// <list type="bullet">
/// <item><b>ingest</b>: per input, each round runs the inspect-only pipeline (every protocol, rows
/// counted and discarded) and then a full ingest into a fresh store (rows, payloads, raw frames,
/// timeline, index, WAL, flush), and reports the throughput ratio and the bytes on disk against
/// the pcap and <c>zstd -19</c> of it.</item>
/// <item><b>growth</b>: ingests the synthetic capture round after round with timestamps shifted
/// past the previous round into one store, and at each size checkpoint (1, 3, 10 GB of capture)
/// runs the indexed queries (one pod over one minute, one connection's payloads, as-of one
/// instant) many times: p50/p99 latency vs store size. The queries are saved beside the store
/// (<c>queries.json</c>) for the <c>flight</c> benchmark.</item>
/// </list>
/// </summary>
public static class StoreBenchmark
{
    public const string QueriesFile = "queries.json";

    /// <summary>Engine options of every store the benchmark opens (--row-group-max-kb changes the row group byte bound).</summary>
    private static TrafficDatabaseOptions _dbOptions = TrafficDatabaseOptions.Default;

    public static async Task<int> RunAsync(string[] args)
    {
        var phases = (Value(args, "--phases") ?? "ingest,growth").Split(',').ToHashSet();
        string dataDir = Value(args, "--data") ?? Path.Combine(IngestBenchmark.FindRepoRoot(), "benchmarks", "data");
        string storeRoot = Value(args, "--dir") ?? Path.Combine(dataDir, "stores");
        long sizeBytes = (long)(double.Parse(Value(args, "--size-mb") ?? "350", CultureInfo.InvariantCulture) * 1_000_000);
        int repeat = int.Parse(Value(args, "--repeat") ?? "3", CultureInfo.InvariantCulture);
        int runs = int.Parse(Value(args, "--runs") ?? "100", CultureInfo.InvariantCulture);
        var checkpoints = (Value(args, "--checkpoints-gb") ?? "1,3,10").Split(',').Select(s => (long)(double.Parse(s, CultureInfo.InvariantCulture) * 1e9)).ToList();
        double maxMinutes = double.Parse(Value(args, "--max-minutes") ?? "1e9", CultureInfo.InvariantCulture);
        string? markdown = Value(args, "--markdown");
        long? rowGroupBytes = Value(args, "--row-group-max-kb") is { } kb ? long.Parse(kb, CultureInfo.InvariantCulture) * 1024 : null;
        long chunkCacheBytes = ChunkCacheBytes(args);
        if (rowGroupBytes is not null || chunkCacheBytes > 0)
        {
            _dbOptions = new TrafficDatabaseOptions
            {
                Engine = o => o with { RowGroupMaxBytes = rowGroupBytes ?? o.RowGroupMaxBytes, ChunkCacheBytes = chunkCacheBytes },
            };
        }
        var extra = Values(args, "--input");
        if (!args.Contains("--no-default-inputs") && phases.Contains("ingest"))
        {
            var mixed = Path.Combine(IngestBenchmark.FindRepoRoot(), "..", "shared", "pcaps", "mixed-large-many-protocols.pcap");
            if (File.Exists(mixed)) extra.Insert(0, Path.GetFullPath(mixed));
        }
        Directory.CreateDirectory(dataDir);
        Directory.CreateDirectory(storeRoot);
        bool needSynthetic = phases.Contains("growth") || phases.Contains("queries") || (phases.Contains("ingest") && !args.Contains("--no-default-inputs"));
        if (!needSynthetic) sizeBytes = 0;

        var synthetic = !needSynthetic ? "" : IngestBenchmark.BuildSynthetic(Path.Combine(dataDir, $"synthetic-{sizeBytes / 1_000_000}mb.pcap"), sizeBytes);
        var snapshot = Path.Combine(dataDir, $"synthetic-{sizeBytes / 1_000_000}mb.k8s.json");
        if (needSynthetic && !File.Exists(snapshot)) new TrafficGenerator(new TrafficGeneratorOptions { TargetBytes = sizeBytes }).WriteKubernetesSnapshot(snapshot);

        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {IngestBenchmark.LoadAverage()}; .NET {Environment.Version}");
        var report = new StringBuilder();
        if (phases.Contains("ingest"))
        {
            var inputs = new List<(string Label, string Path, string? Snapshot)>();
            foreach (var e in extra) inputs.Add((Path.GetFileName(e), e, null));
            if (!args.Contains("--no-default-inputs"))
            {
                var shared = Path.Combine(IngestBenchmark.FindRepoRoot(), "..", "shared");
                inputs.Add(("corpus", CorpusCaptureBuilder.Build(shared, Path.Combine(dataDir, $"corpus-{sizeBytes / 1_000_000}mb.pcapng"), sizeBytes, Console.Out), null));
                inputs.Add(("synthetic", synthetic, snapshot));
            }
            report.Append(await IngestPhaseAsync(inputs, storeRoot, dataDir, repeat));
            if (markdown is not null) File.WriteAllText(markdown, report.ToString());
        }
        if (phases.Contains("growth"))
        {
            report.Append(await GrowthPhaseAsync(synthetic, snapshot, Path.Combine(storeRoot, "growth"), checkpoints, runs,
                TimeSpan.FromMinutes(maxMinutes), markdown is null ? null : () => File.WriteAllText(markdown, report.ToString())));
        }
        if (phases.Contains("queries"))
            report.Append(await QueriesPhaseAsync(synthetic, StoreBenchmark.Value(args, "--store") ?? Path.Combine(storeRoot, "growth"), runs, Value(args, "--only")));
        Console.WriteLine();
        Console.WriteLine(report);
        if (markdown is not null) File.WriteAllText(markdown, report.ToString());
        return 0;
    }

    // ------------------------------------------------------------------ ingest + bytes on disk

    private sealed record IngestRound(double InspectWall, double InspectCpu, double StoreAckWall, double StoreWall, double StoreCpu,
        SortedDictionary<string, long> Disk, long TotalDisk, IngestSummary Summary);

    private static async Task<string> IngestPhaseAsync(List<(string Label, string Path, string? Snapshot)> inputs, string storeRoot, string dataDir, int repeat)
    {
        var sb = new StringBuilder();
        sb.AppendLine("### Ingest into the store vs inspect-only, and bytes on disk").AppendLine();
        sb.AppendLine("| input | pcap MB | frames | inspect-only MB/s (wall / CPU, median) | store MB/s (wall / CPU, median) | ratio wall (median, range) | ratio CPU (median) | on disk MB | × pcap | zstd -19 MB (× pcap) | on disk × zstd -19 |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var breakdowns = new StringBuilder();
        foreach (var (label, path, snapshotPath) in inputs)
        {
            long fileBytes = Sizes.RealFile(path).Length;
            Console.WriteLine($"== {label}: {path} ({fileBytes / 1e6:F1} MB){(snapshotPath is null ? "" : $", Kubernetes snapshot {snapshotPath}")}");
            WarmPageCache(path);
            var identities = snapshotPath is null ? null : KubernetesSnapshot.Load(snapshotPath);
            var rounds = new List<IngestRound>();
            for (int round = 0; round < repeat; round++)
            {
                var (iWall, iCpu, frames) = InspectOnly(path);
                var dir = Path.Combine(storeRoot, $"ingest-{label}");
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                var cpu0 = ProcessCpu.Seconds();
                var sw = Stopwatch.StartNew();
                var db = TrafficDatabase.Open(dir, _dbOptions);
                var summary = await new CaptureIngestor(db, new CaptureIngestOptions { Identities = identities, IdentitySource = snapshotPath }).IngestFileAsync(path);
                double ack = sw.Elapsed.TotalSeconds;
                await db.Engine.FlushAsync();
                await db.DisposeAsync();
                double wall = sw.Elapsed.TotalSeconds, cpu = ProcessCpu.Seconds() - cpu0;
                var disk = Sizes.ByPart(dir);
                var r = new IngestRound(iWall, iCpu, ack, wall, cpu, disk, disk.Values.Sum(), summary);
                rounds.Add(r);
                Console.WriteLine($"  round {round + 1}/{repeat}: inspect {iWall:F2} s wall {iCpu:F2} s cpu ({frames:N0} frames) | store {ack:F2} s to last ack, " +
                                  $"{wall:F2} s with flush+close, {cpu:F2} s cpu | ratio wall {iWall / wall:F2} cpu {iCpu / cpu:F2} | on disk {Sizes.Mb(r.TotalDisk)} MB " +
                                  $"({r.TotalDisk / (double)fileBytes:F3}× pcap) | load {IngestBenchmark.LoadAverage()}");
                GC.Collect();
            }
            long zstd = Sizes.Zstd19(path, dataDir);
            var last = rounds[^1];
            double Med(Func<IngestRound, double> f) => Median(rounds.Select(f));
            var ratios = rounds.Select(r => r.InspectWall / r.StoreWall).Order().ToList();
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {fileBytes / 1e6:F1} | {last.Summary.Frames:N0} | " +
                $"{fileBytes / Med(r => r.InspectWall) / 1e6:F0} / {fileBytes / Med(r => r.InspectCpu) / 1e6:F0} | " +
                $"{fileBytes / Med(r => r.StoreWall) / 1e6:F0} / {fileBytes / Med(r => r.StoreCpu) / 1e6:F0} | " +
                $"{Median(ratios):F2}× ({ratios[0]:F2}–{ratios[^1]:F2}) | {Med(r => r.InspectCpu / r.StoreCpu):F2}× | " +
                $"{Sizes.Mb(last.TotalDisk)} | {last.TotalDisk / (double)fileBytes:F3}× | {Sizes.Mb(zstd)} ({zstd / (double)fileBytes:F3}×) | {last.TotalDisk / (double)zstd:F2}× |");
            breakdowns.AppendLine($"**{label}** on disk after flush and close ({Sizes.Mb(last.TotalDisk)} MB; rows: " +
                string.Join(", ", last.Summary.RowsByTable.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key} {kv.Value:N0}")) + "):").AppendLine();
            breakdowns.AppendLine("| part | MB | × pcap |").AppendLine("|---|---:|---:|");
            foreach (var (part, bytes) in last.Disk.OrderByDescending(kv => kv.Value))
                breakdowns.AppendLine(CultureInfo.InvariantCulture, $"| {part} | {bytes / 1e6:F2} | {bytes / (double)fileBytes:F3} |");
            breakdowns.AppendLine();
        }
        sb.AppendLine().Append(breakdowns);
        return sb.ToString();
    }

    /// <summary>The inspect-only baseline: the pipeline with every protocol, rows counted and dropped.</summary>
    private static (double Wall, double Cpu, long Frames) InspectOnly(string path)
    {
        var protocols = L7Protocols.Discover();
        var connections = new CountingSink<ConnectionRecord>();
        var cpu0 = ProcessCpu.Seconds();
        var sw = Stopwatch.StartNew();
        IngestResult result;
        using (var source = CaptureFile.Open(path))
            result = new IngestPipeline(connections, protocols.Stream, protocols.Datagram, new IngestOptions()).Run(source);
        return (sw.Elapsed.TotalSeconds, ProcessCpu.Seconds() - cpu0, result.Frames);
    }

    private static void WarmPageCache(string path)
    {
        using var f = File.OpenRead(path);
        var buffer = new byte[1 << 20];
        while (f.Read(buffer, 0, buffer.Length) > 0) { }
    }

    // ------------------------------------------------------------------ growth: latency vs store size

    /// <summary>A benchmark query: a name and its text form (docs/query-language.md).</summary>
    public sealed record NamedQuery(string Name, string Text, bool Indexed);

    private static async Task<string> GrowthPhaseAsync(string input, string snapshot, string dir, List<long> checkpoints, int runs, TimeSpan maxTime, Action? saveReport)
    {
        var deadline = Stopwatch.StartNew();
        long fileBytes = Sizes.RealFile(input).Length;
        var (firstNs, lastNs) = CaptureTimeRange(input);
        const long Minute = 60_000_000_000L;
        long roundNs = ((lastNs - firstNs) / Minute + 2) * Minute;
        Console.WriteLine($"== growth: {input} ({fileBytes / 1e6:F0} MB per round, {(lastNs - firstNs) / 1e9:F0} s of traffic, rounds {roundNs / Minute} min apart) into {dir}");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        var identities = KubernetesSnapshot.Load(snapshot);
        var sb = new StringBuilder();
        sb.AppendLine("### Query latency vs store size").AppendLine();
        var table = new StringBuilder();
        table.AppendLine("| capture ingested | store on disk | rounds | query | rows | p50 ms | p99 ms | max ms | CPU ms/query | runs |");
        table.AppendLine("|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|");
        var ingestLog = new StringBuilder();

        var db = TrafficDatabase.Open(dir, _dbOptions);
        List<NamedQuery>? queries = null;
        long ingested = 0;
        int round = 0, next = 0;
        try
        {
            while (next < checkpoints.Count)
            {
                var cpu0 = ProcessCpu.Seconds();
                var sw = Stopwatch.StartNew();
                using (var source = new ShiftedCaptureSource(CaptureFile.Open(input), round * roundNs))
                    await new CaptureIngestor(db, new CaptureIngestOptions { Identities = identities, IdentitySource = snapshot })
                        .IngestAsync(source, $"{input}@+{round * roundNs / Minute}min", fileBytes);
                ingested += fileBytes;
                round++;
                string line = $"round {round}: {sw.Elapsed.TotalSeconds:F1} s wall, {ProcessCpu.Seconds() - cpu0:F1} s cpu, {ingested / 1e9:F2} GB ingested, load {IngestBenchmark.LoadAverage()}";
                Console.WriteLine("  " + line);
                ingestLog.AppendLine("    " + line);
                if (round == 1)
                {
                    await db.Engine.FlushAsync();
                    queries = await ChooseQueriesAsync(db, firstNs);
                    File.WriteAllText(Path.Combine(Path.GetDirectoryName(dir)!, QueriesFile), JsonSerializer.Serialize(queries));
                    foreach (var q in queries) Console.WriteLine($"  query {q.Name}: {q.Text}");
                }
                bool outOfTime = deadline.Elapsed >= maxTime;
                if (ingested < checkpoints[next] && !outOfTime) continue;
                await db.Engine.FlushAsync();
                // Measure on a freshly opened store, as a server would serve it (index rebuilt from the footers).
                await db.DisposeAsync();
                var openSw = Stopwatch.StartNew();
                db = TrafficDatabase.Open(dir, _dbOptions);
                double openS = openSw.Elapsed.TotalSeconds;
                long disk = Sizes.ByPart(dir).Values.Sum();
                Console.WriteLine($"  checkpoint {ingested / 1e9:F2} GB of capture, {disk / 1e9:F2} GB on disk, reopened in {openS:F1} s");
                await using var client = new LocalTrafficClient(db);
                foreach (var q in queries!)
                {
                    var (samples, rows, cpuMs) = await TimeQueryAsync(client, q.Text, runs);
                    Console.WriteLine($"    {q.Name,-26} rows {rows,7:N0}  p50 {samples.P50,8:F2} ms  p99 {samples.P99,8:F2} ms  max {samples.Max,8:F2} ms  cpu {cpuMs,7:F2} ms/query  (load {IngestBenchmark.LoadAverage()})");
                    table.AppendLine(CultureInfo.InvariantCulture, $"| {ingested / 1e9:F2} GB | {disk / 1e9:F2} GB | {round} | {q.Name} | {rows:N0} | {samples.P50:F2} | {samples.P99:F2} | {samples.Max:F2} | {cpuMs:F2} | {samples.Count} |");
                }
                while (next < checkpoints.Count && ingested >= checkpoints[next]) next++;
                saveReport?.Invoke();
                if (outOfTime)
                {
                    Console.WriteLine($"  stopping: --max-minutes reached at {ingested / 1e9:F2} GB");
                    table.AppendLine().AppendLine(CultureInfo.InvariantCulture, $"Stopped by --max-minutes at {ingested / 1e9:F2} GB of capture (next checkpoint {(next < checkpoints.Count ? checkpoints[next] / 1e9 : 0):F0} GB).");
                    break;
                }
            }
        }
        finally
        {
            await db.DisposeAsync();
        }
        sb.Append(table).AppendLine().AppendLine("Ingest rounds:").AppendLine().AppendLine("```").Append(ingestLog).AppendLine("```").AppendLine();
        sb.AppendLine("Queries:").AppendLine();
        foreach (var q in queries ?? []) sb.AppendLine(CultureInfo.InvariantCulture, $"- {q.Name}: `{q.Text}`");
        sb.AppendLine();
        return sb.ToString();
    }

    /// <summary>
    /// The queries of issue 5, on the first round's traffic: the busiest pod over one minute
    /// (connections and http), one connection's payloads (a connection of that minute with HTTP
    /// messages), and as_of one instant (for that pod, and the whole store).
    /// </summary>
    private static async Task<List<NamedQuery>> ChooseQueriesAsync(TrafficDatabase db, long firstNs)
    {
        const long Minute = 60_000_000_000L;
        long from = (firstNs / Minute + 2) * Minute, to = from + Minute;
        await using var client = new LocalTrafficClient(db);
        var pods = new Dictionary<string, int>();
        foreach (var row in await RowsAsync(client, $"connections from {Sec(from)} to {Sec(to)} select client_pod, server_pod"))
            foreach (var pod in row)
                if (!string.IsNullOrEmpty(pod)) pods[pod] = pods.GetValueOrDefault(pod) + 1;
        if (pods.Count == 0) throw new InvalidOperationException("no pod in the first round's connections: is the Kubernetes snapshot applied?");
        // The busiest pod that is not a DNS server (every pod talks to kube-dns, so it is the busiest by far).
        string pod1 = pods.OrderByDescending(kv => kv.Value).Select(kv => kv.Key).First(p => !p.Contains("dns", StringComparison.Ordinal));
        // as_of: the middle of the pod's longest connection that starts in the minute, so the instant has open connections.
        var spans = (await RowsAsync(client, $"connections where pod='{pod1}' from {Sec(from)} to {Sec(to)} select first_ts, last_ts"))
            .Select(r => (First: long.Parse(r[0]!, CultureInfo.InvariantCulture), Last: long.Parse(r[1]!, CultureInfo.InvariantCulture))).ToList();
        var longest = spans.OrderByDescending(s => s.Last - s.First).First();
        long at = longest.First + (longest.Last - longest.First) / 2;
        var conns = await RowsAsync(client, $"payloads from {Sec(from)} to {Sec(to)} select connection_id limit 1000");
        var connection = conns.GroupBy(r => r[0]).OrderBy(g => g.Count()).Select(g => g.Key).ElementAt(conns.Select(r => r[0]).Distinct().Count() / 2);
        return
        [
            new("connections: pod, 1 min", $"connections where pod='{pod1}' from {Sec(from)} to {Sec(to)}", true),
            new("http: pod, 1 min", $"http where pod='{pod1}' from {Sec(from)} to {Sec(to)}", true),
            new("payloads: 1 connection", $"payloads where connection={connection}", true),
            new("payloads: 1 conn, 1 min", $"payloads where connection={connection} from {Sec(from)} to {Sec(to)}", true),
            new("connections: pod, as_of", $"connections where pod='{pod1}' as of {Sec(at)}", true),
            new("connections: all, as_of", $"connections as of {Sec(at)}", false),
        ];
    }

    /// <summary>
    /// The query part of the growth phase alone, on an existing store (e.g. the one growth left):
    /// chooses the queries afresh from its first capture, saves them, and measures them.
    /// </summary>
    /// <param name="only">`--only TEXT`: time only the queries whose name contains it (queries.json is still written whole).</param>
    private static async Task<string> QueriesPhaseAsync(string input, string dir, int runs, string? only)
    {
        var (firstNs, _) = CaptureTimeRange(input);
        long disk = Sizes.ByPart(dir).Values.Sum();
        var openSw = Stopwatch.StartNew();
        await using var db = TrafficDatabase.Open(dir, _dbOptions);
        Console.WriteLine($"== queries on {dir}: {disk / 1e9:F2} GB on disk, opened in {openSw.Elapsed.TotalSeconds:F1} s; " +
                          $"decoded-chunk cache {(db.Engine.Options.ChunkCacheBytes == 0 ? "off" : $"{db.Engine.Options.ChunkCacheBytes >> 20} MiB")}");
        var queries = await ChooseQueriesAsync(db, firstNs);
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(dir))!, QueriesFile), JsonSerializer.Serialize(queries));
        long captured = 0;
        await using (var client = new LocalTrafficClient(db))
        {
            // Complete ingest runs of this input (the growth phase ingests the same file each round).
            captured = (await RowsAsync(client, "capture_stats where state='complete' select capture_id")).Count * new FileInfo(input).Length;
        }
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"### Query latency on the store ({captured / 1e9:F2} GB of capture, {disk / 1e9:F2} GB on disk)").AppendLine();
        sb.AppendLine("| query | rows | p50 ms | p99 ms | max ms | CPU ms/query | runs | plan (segments read / considered, row groups read, rows scanned) |").AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        await using (var client = new LocalTrafficClient(db))
        {
            foreach (var q in queries)
            {
                if (only is not null && !q.Name.Contains(only, StringComparison.Ordinal)) continue;
                var (samples, rows, cpuMs) = await TimeQueryAsync(client, q.Text, runs);
                Console.WriteLine($"    {q.Name,-26} rows {rows,7:N0}  p50 {samples.P50,8:F2} ms  p99 {samples.P99,8:F2} ms  max {samples.Max,8:F2} ms  cpu {cpuMs,7:F2} ms/query  (load {IngestBenchmark.LoadAverage()})");
                string plan = await DiagnoseAsync(db, q.Text);
                Console.WriteLine($"      plan: {plan}");
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {q.Name} | {rows:N0} | {samples.P50:F2} | {samples.P99:F2} | {samples.Max:F2} | {cpuMs:F2} | {samples.Count} | {plan} |");
            }
        }
        sb.AppendLine().AppendLine("Queries:").AppendLine();
        foreach (var q in queries) sb.AppendLine(CultureInfo.InvariantCulture, $"- {q.Name}: `{q.Text}`");
        sb.AppendLine();
        return sb.ToString();
    }

    /// <summary>What the engine did for a query: segments read of those considered, row groups, rows scanned, index use.</summary>
    private static async Task<string> DiagnoseAsync(TrafficDatabase db, string query)
    {
        var spec = TrafficStore.Store.Query.QueryTranslator.Translate(TrafficStore.Store.Query.QueryParser.Parse(query));
        var diag = new TrafficStore.Engine.Query.QueryDiagnostics();
        await foreach (var b in db.Engine.QueryAsync(spec, diag)) b.Dispose();
        return $"{diag.SegmentsRead} / {diag.SegmentsConsidered} segments (index skipped {diag.SegmentsSkippedByIndex}, zone maps {diag.SegmentsSkippedByZoneMap}), " +
               $"{diag.RowGroupsRead} row groups read ({diag.RowGroupsSkipped} skipped), {diag.RowsScanned:N0} rows scanned{(diag.UsedIndex ? ", index" : "")}, " +
               $"chunks {diag.ChunksFromDisk} from disk ({diag.ChunkBytesStored / 1024.0:N0} KiB stored, {diag.ChunkBytesRaw / 1024.0:N0} KiB raw) / {diag.ChunksFromCache} cached";
    }

    private static string Sec(long ns) => (ns / 1_000_000_000L).ToString(CultureInfo.InvariantCulture) + "." + (ns % 1_000_000_000L).ToString("D9", CultureInfo.InvariantCulture);

    private static async Task<List<string?[]>> RowsAsync(LocalTrafficClient client, string query)
    {
        var result = await client.QueryAsync(query);
        var rows = new List<string?[]>();
        await foreach (var b in result.Batches)
        {
            for (int i = 0; i < b.Length; i++)
                rows.Add(Enumerable.Range(0, b.ColumnCount).Select(c => Text(b.Column(c), i)).ToArray());
        }
        return rows;
    }

    private static string? Text(IArrowArray a, int i) => a switch
    {
        StringArray s => s.GetString(i),
        Int64Array l => l.GetValue(i)?.ToString(CultureInfo.InvariantCulture),
        TimestampArray t => t.IsNull(i) ? null : t.Values[i].ToString(CultureInfo.InvariantCulture),
        _ => a.IsNull(i) ? null : a.ToString(),
    };

    /// <summary>`--chunk-cache-mb N`: the engine's decoded-chunk cache (0, the default, = off: every query reads from disk).</summary>
    internal static long ChunkCacheBytes(string[] args) =>
        (long)(double.Parse(Value(args, "--chunk-cache-mb") ?? "0", CultureInfo.InvariantCulture) * (1 << 20));

    /// <summary>Runs a query to steady state (<see cref="SteadyState"/>), then <paramref name="runs"/> times, reading every batch.</summary>
    internal static async Task<(LatencySamples Samples, long Rows, double CpuMsPerQuery)> TimeQueryAsync(ITrafficClient client, string query, int runs)
    {
        long rows = 0;
        var (warmRuns, quiet) = await SteadyState.WarmAsync(async () => rows = await DrainAsync(client, query));
        var samples = new LatencySamples();
        var jit = SteadyState.JitMark.Now();
        var cpu0 = ProcessCpu.Seconds();
        for (int i = 0; i < runs; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            rows = await DrainAsync(client, query);
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        double cpuMs = (ProcessCpu.Seconds() - cpu0) * 1000 / runs;
        Console.WriteLine($"      warm-up {warmRuns} runs{(quiet ? "" : " (JIT not yet quiet)")}; {jit.Since(runs)}");
        return (samples, rows, cpuMs);
    }

    private static async Task<long> DrainAsync(ITrafficClient client, string query)
    {
        var result = await client.QueryAsync(query);
        long rows = 0;
        await foreach (var b in result.Batches)
        {
            rows += b.Length;
            b.Dispose();
        }
        return rows;
    }

    /// <summary>First and last frame timestamps of a capture (one read pass).</summary>
    private static (long First, long Last) CaptureTimeRange(string path)
    {
        using var source = CaptureFile.Open(path);
        var frame = new CaptureFrame();
        long first = long.MaxValue, last = long.MinValue;
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
        {
            first = Math.Min(first, frame.TimestampNs);
            last = Math.Max(last, frame.TimestampNs);
        }
        return (first, last);
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToList();
        return v.Count == 0 ? double.NaN : v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }

    internal static string? Value(string[] args, string name)
    {
        int i = System.Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    internal static List<string> Values(string[] args, string name) =>
        args.Select((a, i) => (a, i)).Where(p => p.a == name && p.i + 1 < args.Length).Select(p => args[p.i + 1]).ToList();
}
