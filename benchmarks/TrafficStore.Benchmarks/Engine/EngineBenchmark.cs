using System.Diagnostics;
using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Query;

namespace TrafficStore.Benchmarks.Engine;

/// <summary>
/// <c>TrafficStore.Benchmarks engine [--rows N] [--batch N] [--writers N] [--dir PATH]</c>:
/// write throughput (durable appends with group commit, then sealing) and query latency
/// (indexed point lookup, time-range scan, filtered scan, as-of) on a connections-like table.
/// </summary>
public static class EngineBenchmark
{
    private static readonly TimestampType Ts = new(TimeUnit.Nanosecond, "UTC");

    private static readonly Schema Conn = new Schema.Builder()
        .Field(new Field("time", Ts, true)).Field(new Field("end_time", Ts, true))
        .Field(new Field("namespace", StringType.Default, true)).Field(new Field("pod", StringType.Default, true))
        .Field(new Field("connection_id", Int64Type.Default, true)).Field(new Field("bytes", Int64Type.Default, true))
        .Field(new Field("rtt", DoubleType.Default, true)).Field(new Field("ok", BooleanType.Default, true))
        .Field(new Field("path", StringType.Default, true)).Build();

    private const long StepNs = 1_000_000; // one row per ms: 60k rows per one-minute partition
    private static readonly long Base = QuerySpec.ToNs(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public static async Task<int> RunAsync(string[] args)
    {
        int rows = Arg(args, "--rows", 2_000_000), batchRows = Arg(args, "--batch", 4096), writers = Arg(args, "--writers", 4);
        var dir = args.SkipWhile(a => a != "--dir").Skip(1).FirstOrDefault() ?? Directory.CreateTempSubdirectory("tsbench-").FullName;
        Console.WriteLine($"engine benchmark: {rows:N0} rows, batches of {batchRows}, {writers} concurrent writers, store {dir}");
        try
        {
            var options = new StoreOptions(dir) { FlushInterval = null, RetentionInterval = null, MaxUnsealedBytes = long.MaxValue };
            var batches = Enumerable.Range(0, (rows + batchRows - 1) / batchRows)
                .Select(b => MakeBatch(b * batchRows, Math.Min(batchRows, rows - b * batchRows))).ToArray();
            long rawBytes = 0;

            await using (var engine = TrafficStoreEngine.Open(options))
            {
                engine.RegisterTable(new TableSpec("connections", Conn, "time")
                {
                    EndTimeColumn = "end_time", IndexedColumns = ["namespace", "pod", "connection_id"], NamespaceColumn = "namespace",
                });
                var sw = Stopwatch.StartNew();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                int next = -1;
                await Task.WhenAll(Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
                {
                    int i;
                    while ((i = Interlocked.Increment(ref next)) < batches.Length) await engine.AppendAsync("connections", batches[i]);
                })));
                var append = sw.Elapsed;
                var appendCpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                var stats = engine.GetStats();
                rawBytes = stats.WalBytes;
                Console.WriteLine($"append (durable, WAL fsync'd): {rows / append.TotalSeconds:N0} rows/s, {stats.WalBytes / append.TotalSeconds / 1e6:N1} MB/s WAL, " +
                                  $"{stats.WalCommits} fsyncs for {batches.Length} appends, {append.TotalMilliseconds / batches.Length * writers:N2} ms per append, {appendCpu.TotalSeconds:N2} s CPU");
                sw.Restart();
                cpu = Process.GetCurrentProcess().TotalProcessorTime;
                await engine.FlushAsync();
                var flush = sw.Elapsed;
                var flushCpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
                var t = engine.GetStats().Tables["connections"];
                Console.WriteLine($"seal: {rows / flush.TotalSeconds:N0} rows/s ({flushCpu.TotalSeconds:N2} s CPU); {t.Segments} segments, {t.BytesOnDisk / 1e6:N1} MB on disk " +
                                  $"({(double)t.BytesOnDisk / rows:N1} B/row), raw {t.RawBytes / 1e6:N1} MB, compression {t.CompressionRatio:N2}x");
                Console.WriteLine($"end-to-end ingest (append + seal): {rows / (append + flush).TotalSeconds:N0} rows/s");
            }

            var reopen = Stopwatch.StartNew();
            await using (var engine = TrafficStoreEngine.Open(options))
            {
                Console.WriteLine($"reopen (footers checked, index rebuilt: {engine.GetStats().IndexEntries:N0} postings): {reopen.Elapsed.TotalMilliseconds:N0} ms");
                var rng = new Random(1);
                long span = rows * StepNs;
                await Measure("point lookup connection_id = X (index)", 200, engine, _ =>
                    new QuerySpec("connections").Where(ColumnFilter.Eq("connection_id", (long)rng.Next(rows / 4))));
                await Measure("1 s time range, all columns", 100, engine, _ =>
                {
                    long from = Base + rng.NextInt64(span - 1_000_000_000);
                    return new QuerySpec("connections") { From = from, To = from + 1_000_000_000 };
                });
                await Measure("pod = X in 1 partition (index)", 50, engine, _ =>
                {
                    long from = Base + rng.NextInt64(Math.Max(1, span - 60_000_000_000));
                    return new QuerySpec("connections") { From = from, To = from + 60_000_000_000 }.Where(ColumnFilter.Eq("pod", $"pod-{rng.Next(200)}"));
                });
                await Measure("full scan bytes > X, count only", 5, engine, _ =>
                    new QuerySpec("connections").Where(ColumnFilter.Gt("bytes", 1_000_000L)).Select("connection_id"));
                await Measure("as-of instant, namespace = X", 20, engine, _ =>
                    new QuerySpec("connections") { AsOf = Base + rng.NextInt64(span) }.Where(ColumnFilter.Eq("namespace", $"ns-{rng.Next(8)}")).Select("connection_id"));
            }
            _ = rawBytes;
            return 0;
        }
        finally
        {
            if (!args.Contains("--dir")) Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task Measure(string name, int iterations, TrafficStoreEngine engine, Func<int, QuerySpec> query)
    {
        var times = new List<double>();
        long rowsOut = 0;
        var diag = new QueryDiagnostics();
        for (int i = 0; i < iterations; i++)
        {
            var q = query(i);
            var sw = Stopwatch.StartNew();
            await foreach (var batch in engine.QueryAsync(q, diag)) rowsOut += batch.Length;
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine($"{name}: p50 {times[times.Count / 2]:N2} ms, p99 {times[(int)(times.Count * 0.99)]:N2} ms, " +
                          $"{(double)rowsOut / iterations:N0} rows/query, {(double)diag.SegmentsRead / iterations:N1} segments and {(double)diag.RowGroupsRead / iterations:N1} row groups read/query");
    }

    private static RecordBatch MakeBatch(int start, int n)
    {
        var time = new long[n]; var end = new long[n]; var id = new long[n]; var bytes = new long[n]; var rtt = new double[n];
        var ns = new StringArray.Builder(); var pod = new StringArray.Builder(); var path = new StringArray.Builder(); var ok = new BooleanArray.Builder();
        for (int k = 0; k < n; k++)
        {
            int i = start + k;
            time[k] = Base + i * StepNs;
            end[k] = time[k] + (i % 97) * 10_000_000L;
            id[k] = i / 4;
            bytes[k] = (i * 7919L) % 2_000_000;
            rtt[k] = Math.Round((i % 1000) * 0.013, 3);
            ns.Append($"ns-{i % 8}");
            pod.Append($"pod-{i % 200}");
            path.Append($"/api/v1/orders/{i % 5000}");
            ok.Append(i % 50 != 0);
        }
        return new RecordBatch(Conn, [
            new TimestampArray(Ts, Buffer(time), ArrowBuffer.Empty, n, 0, 0), new TimestampArray(Ts, Buffer(end), ArrowBuffer.Empty, n, 0, 0),
            ns.Build(), pod.Build(), new Int64Array(Buffer(id), ArrowBuffer.Empty, n, 0, 0), new Int64Array(Buffer(bytes), ArrowBuffer.Empty, n, 0, 0),
            new DoubleArray(new ArrowBuffer(MemoryMarshal.AsBytes(rtt.AsSpan()).ToArray()), ArrowBuffer.Empty, n, 0, 0), ok.Build(), path.Build()], n);
    }

    private static ArrowBuffer Buffer(long[] values) => new(MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = System.Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }
}
