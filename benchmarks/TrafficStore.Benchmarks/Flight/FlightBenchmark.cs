using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using TrafficStore.Benchmarks.Ingest;
using TrafficStore.Benchmarks.Store;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Hosting;
using TrafficStore.Server.Security;
using TrafficStore.Store;
using TrafficStore.Store.Client;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Benchmarks.Flight;

/// <summary>
/// <c>TrafficStore.Benchmarks flight</c> (issue 6): the Flight server in this process on
/// 127.0.0.1 over a store built by the <c>store</c> benchmark, queried with the stock
/// <see cref="FlightClient"/> (query strings as tickets, no TrafficStore types on the client side):
/// DoGet throughput of full-table exports (bytes of Arrow buffers received per second), then the
/// latency of the store benchmark's indexed queries with 1 and 16 concurrent clients, each client
/// on its own HTTP/2 connection.
/// </summary>
public static class FlightBenchmark
{
    private const string Token = "flight-benchmark-token-0000000000";

    public static async Task<int> RunAsync(string[] args)
    {
        string dataDir = StoreBenchmark.Value(args, "--data") ?? Path.Combine(IngestBenchmark.FindRepoRoot(), "benchmarks", "data");
        string storeDir = StoreBenchmark.Value(args, "--store") ?? Path.Combine(dataDir, "stores", "growth");
        var tables = (StoreBenchmark.Value(args, "--tables") ?? "connections,http,payloads,packets").Split(',');
        int repeat = int.Parse(StoreBenchmark.Value(args, "--repeat") ?? "3", CultureInfo.InvariantCulture);
        int runs = int.Parse(StoreBenchmark.Value(args, "--runs") ?? "50", CultureInfo.InvariantCulture);
        var clientCounts = (StoreBenchmark.Value(args, "--clients") ?? "1,16").Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();
        string? markdown = StoreBenchmark.Value(args, "--markdown");
        var streamCounts = StoreBenchmark.Value(args, "--streams") is { } st
            ? st.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToList()
            : [];
        s_clientWindowBytes = int.Parse(StoreBenchmark.Value(args, "--client-window-kb") ?? "0", CultureInfo.InvariantCulture) * 1024;
        // Unless a window is forced for every client, the payload queries at the largest client count run a second
        // time with the window docs/server.md recommends for payload readers, reported on rows of their own.
        int recommendedWindowBytes = s_clientWindowBytes > 0 ? 0
            : int.Parse(StoreBenchmark.Value(args, "--recommended-window-kb") ?? (RecommendedClientWindowBytes / 1024).ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) * 1024;
        string queriesFile = StoreBenchmark.Value(args, "--queries") ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(storeDir))!, StoreBenchmark.QueriesFile);
        if (StoreBenchmark.Value(args, "--connect") is { } connect)
        {
            // Clients only: a server started apart (e.g. `taskset -c 0 trafficstore serve`, this on `taskset -c 1`), so
            // the CPU this process reports is the stock clients' alone, and the server's latency is not the clients' CPU.
            Auth = new() { { "Authorization", "Bearer " + (StoreBenchmark.Value(args, "--token") ?? Environment.GetEnvironmentVariable("TRAFFICSTORE_TOKEN")) } };
            var remoteQueries = JsonSerializer.Deserialize<List<StoreBenchmark.NamedQuery>>(File.ReadAllText(queriesFile))!.Where(q => q.Indexed).ToList();
            Console.WriteLine($"machine: {Environment.ProcessorCount} cores usable by the clients, load average {IngestBenchmark.LoadAverage()}; clients only, server {connect}");
            var remote = new StringBuilder();
            if (repeat > 0) remote.Append(await ExportAsync(new Uri(connect), tables, repeat));
            remote.Append(await LatencyAsync(new Uri(connect), remoteQueries, clientCounts, runs, s_clientWindowBytes, header: true)).AppendLine();
            Console.WriteLine();
            Console.WriteLine(remote);
            if (markdown is not null) File.WriteAllText(markdown, remote.ToString());
            return 0;
        }
        if (!Directory.Exists(storeDir))
        {
            Console.Error.WriteLine($"no store at {storeDir}: run `store --phases growth` first (or pass --store DIR)");
            return 2;
        }
        var queries = File.Exists(queriesFile)
            ? JsonSerializer.Deserialize<List<StoreBenchmark.NamedQuery>>(File.ReadAllText(queriesFile))!.Where(q => q.Indexed).ToList()
            : [];

        Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {IngestBenchmark.LoadAverage()}; .NET {Environment.Version}; store {storeDir}");
        var openSw = Stopwatch.StartNew();
        long chunkCacheBytes = StoreBenchmark.ChunkCacheBytes(args);
        var db = TrafficDatabase.Open(storeDir, new TrafficDatabaseOptions { Engine = o => o with { ChunkCacheBytes = chunkCacheBytes } });
        Console.WriteLine($"decoded-chunk cache: {(chunkCacheBytes == 0 ? "off" : $"{chunkCacheBytes >> 20} MiB")}");
        Console.WriteLine($"store opened in {openSw.Elapsed.TotalSeconds:F1} s, {Sizes.ByPart(storeDir).Values.Sum() / 1e9:F2} GB on disk");
        var local = new LocalTrafficClient(db);
        var tokens = TokenFile.Parse($$$"""
            {"tokens": {"{{{Token}}}": {"name": "bench", "namespaces": "*", "scopes": ["read", "payloads:read", "admin"]} } }
            """);
        var serverOptions = new TrafficServerOptions
        {
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            MinimumLogLevel = LogLevel.Warning,
            JsonLogs = false,
            ResponseBufferBytes = StoreBenchmark.Value(args, "--response-buffer-kb") is { } kb
                ? long.Parse(kb, CultureInfo.InvariantCulture) * 1024
                : new TrafficServerOptions().ResponseBufferBytes,
            MemoryBlockBytes = StoreBenchmark.Value(args, "--memory-block-kb") is { } mb
                ? int.Parse(mb, CultureInfo.InvariantCulture) * 1024
                : new TrafficServerOptions().MemoryBlockBytes,
        };
        var server = await TrafficServer.StartAsync(new ServedStore(db, local), tokens, serverOptions);
        var report = new StringBuilder();
        try
        {
            Console.WriteLine($"server at {server.Address}; client HTTP/2 stream window {(s_clientWindowBytes > 0 ? $"{s_clientWindowBytes / 1024} KiB" : ".NET default")}; " +
                              $"server memory blocks {(serverOptions.MemoryBlockBytes is > 0 and var blocks ? $"{blocks / 1024} KiB" : "Kestrel's (4 KiB)")}");
            if (repeat > 0) report.Append(await ExportAsync(server.Address, tables, repeat)); // --repeat 0: latency only
            if (streamCounts.Count > 0) report.Append(await ParallelExportAsync(server.Address, tables, streamCounts, Math.Max(1, repeat)));
            if (queries.Count > 0)
            {
                report.Append(await LatencyAsync(server.Address, queries, clientCounts, runs, s_clientWindowBytes, header: true));
                var payloadQueries = queries.Where(q => q.Text.StartsWith("payloads ", StringComparison.Ordinal)).ToList();
                if (recommendedWindowBytes > 0 && payloadQueries.Count > 0)
                {
                    Console.WriteLine($"again with the client HTTP/2 stream window recommended for payload readers ({recommendedWindowBytes / 1024} KiB):");
                    report.Append(await LatencyAsync(server.Address, payloadQueries, [clientCounts.Max()], runs, recommendedWindowBytes, header: false));
                }
                report.AppendLine();
            }
            else Console.WriteLine($"no {queriesFile}: latency part skipped");
        }
        finally
        {
            await server.DisposeAsync();
            await local.DisposeAsync();
            await db.DisposeAsync();
        }
        Console.WriteLine();
        Console.WriteLine(report);
        if (markdown is not null) File.WriteAllText(markdown, report.ToString());
        return 0;
    }

    /// <summary>
    /// The client's initial HTTP/2 stream receive window (<c>--client-window-kb</c>); 0 keeps .NET's
    /// default (64 KiB, grown by its RTT-based dynamic sizing). A setting of the stock handler, no client code.
    /// </summary>
    private static int s_clientWindowBytes;

    /// <summary>The <c>SocketsHttpHandler.InitialHttp2StreamWindowSize</c> docs/server.md recommends for payload readers
    /// (the one TrafficStore's own client uses; the benchmark's clients stay stock and only take the number).</summary>
    private const int RecommendedClientWindowBytes = TrafficStore.Server.Client.FlightTrafficClient.RecommendedStreamWindowBytes;

    private static GrpcChannel Channel(Uri address, int windowBytes = -1)
    {
        if (windowBytes < 0) windowBytes = s_clientWindowBytes;
        var options = new GrpcChannelOptions { MaxReceiveMessageSize = 64 << 20 };
        if (windowBytes > 0)
        {
            // What GrpcChannel would create itself (multiple HTTP/2 connections allowed), plus the window.
            options.HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, InitialHttp2StreamWindowSize = windowBytes };
            options.DisposeHttpClient = true;
        }
        return GrpcChannel.ForAddress(address, options);
    }

    private static Metadata Auth { get; set; } = new() { { "Authorization", "Bearer " + Token } };

    private static async Task<string> ExportAsync(Uri address, string[] tables, int repeat)
    {
        var sb = new StringBuilder();
        sb.AppendLine("### DoGet: full-table export on loopback").AppendLine();
        sb.AppendLine("| table | rows | Arrow data | batches | GB/s wall (best / median) | s wall (median) | process CPU s (median; server + client) | GB per CPU-second (median) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var table in tables)
        {
            var walls = new List<double>();
            var cpus = new List<double>();
            long rows = 0, bytes = 0, batches = 0;
            for (int r = 0; r < repeat; r++)
            {
                using var channel = Channel(address);
                var client = new FlightClient(channel);
                rows = bytes = batches = 0;
                var cpu0 = ProcessCpu.Seconds();
                var sw = Stopwatch.StartNew();
                using (var call = client.GetStream(new FlightTicket(table), Auth))
                {
                    await call.ResponseStream.Schema;
                    while (await call.ResponseStream.MoveNext())
                    {
                        using var batch = call.ResponseStream.Current;
                        rows += batch.Length;
                        bytes += ArrowBatchSize.Bytes(batch);
                        batches++;
                    }
                }
                double wall = sw.Elapsed.TotalSeconds, cpu = ProcessCpu.Seconds() - cpu0;
                walls.Add(wall);
                cpus.Add(cpu);
                Console.WriteLine($"  {table,-12} {rows,12:N0} rows {bytes / 1e9,8:F3} GB {batches,6} batches {wall,7:F2} s wall {cpu,7:F2} s cpu " +
                                  $"{bytes / wall / 1e9,6:F2} GB/s wall {bytes / cpu / 1e9,6:F2} GB/cpu-s (load {IngestBenchmark.LoadAverage()})");
            }
            double med = Median(walls), medCpu = Median(cpus);
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {table} | {rows:N0} | {bytes / 1e9:F3} GB | {batches:N0} | {bytes / walls.Min() / 1e9:F2} / {bytes / med / 1e9:F2} | {med:F2} | {medCpu:F2} | {bytes / medCpu / 1e9:F2} |");
        }
        sb.AppendLine();
        return sb.ToString();
    }

    /// <summary>
    /// <c>--streams 1,2,4</c>: a full table the way issue 6 means clients to fetch it in parallel — GetFlightInfo on
    /// the table's path descriptor, then its endpoints' tickets fetched by N stock clients at once, each on its own
    /// channel (HTTP/2 connection), each taking the next endpoint when it finishes one. Still no TrafficStore code
    /// on the client side; the rows arrive in no particular order across endpoints.
    /// </summary>
    private static async Task<string> ParallelExportAsync(Uri address, string[] tables, List<int> streamCounts, int repeat)
    {
        var sb = new StringBuilder();
        sb.AppendLine("### DoGet: full table through GetFlightInfo's endpoints, N parallel streams").AppendLine();
        sb.AppendLine("| table | streams | endpoints | rows | Arrow data | batches | GB/s wall (best / median) | s wall (median) | process CPU s (median) | GB per CPU-second (median) |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var table in tables)
        {
            foreach (int n in streamCounts)
            {
                var walls = new List<double>();
                var cpus = new List<double>();
                long rows = 0, bytes = 0, batches = 0;
                int endpoints = 0;
                for (int r = 0; r < repeat; r++)
                {
                    var channels = Enumerable.Range(0, n).Select(_ => Channel(address)).ToList();
                    try
                    {
                        var cpu0 = ProcessCpu.Seconds();
                        var sw = Stopwatch.StartNew();
                        var info = await new FlightClient(channels[0]).GetInfo(FlightDescriptor.CreatePathDescriptor(table), Auth);
                        var queue = new System.Collections.Concurrent.ConcurrentQueue<FlightEndpoint>(info.Endpoints);
                        endpoints = info.Endpoints.Count;
                        var totals = await Task.WhenAll(channels.Select(channel => Task.Run(async () =>
                        {
                            var client = new FlightClient(channel);
                            long myRows = 0, myBytes = 0, myBatches = 0;
                            while (queue.TryDequeue(out var endpoint))
                            {
                                using var call = client.GetStream(endpoint.Ticket, Auth);
                                while (await call.ResponseStream.MoveNext())
                                {
                                    using var batch = call.ResponseStream.Current;
                                    myRows += batch.Length;
                                    myBytes += ArrowBatchSize.Bytes(batch);
                                    myBatches++;
                                }
                            }
                            return (myRows, myBytes, myBatches);
                        })));
                        double wall = sw.Elapsed.TotalSeconds, cpu = ProcessCpu.Seconds() - cpu0;
                        rows = totals.Sum(t => t.myRows);
                        bytes = totals.Sum(t => t.myBytes);
                        batches = totals.Sum(t => t.myBatches);
                        walls.Add(wall);
                        cpus.Add(cpu);
                        Console.WriteLine($"  {table,-12} {n,2} streams {endpoints,4} endpoints {rows,12:N0} rows {bytes / 1e9,8:F3} GB {batches,6} batches {wall,7:F2} s wall {cpu,7:F2} s cpu " +
                                          $"{bytes / wall / 1e9,6:F2} GB/s wall {bytes / cpu / 1e9,6:F2} GB/cpu-s (load {IngestBenchmark.LoadAverage()})");
                    }
                    finally
                    {
                        foreach (var c in channels) c.Dispose();
                    }
                }
                double med = Median(walls), medCpu = Median(cpus);
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {table} | {n} | {endpoints} | {rows:N0} | {bytes / 1e9:F3} GB | {batches:N0} | {bytes / walls.Min() / 1e9:F2} / {bytes / med / 1e9:F2} | {med:F2} | {medCpu:F2} | {bytes / medCpu / 1e9:F2} |");
            }
        }
        sb.AppendLine();
        return sb.ToString();
    }

    /// <summary>
    /// The latency table (with its <paramref name="header"/>) or more rows of it. Rows measured with a client window
    /// other than .NET's default say so in the clients column when the run's other rows use the default.
    /// </summary>
    private static async Task<string> LatencyAsync(Uri address, List<StoreBenchmark.NamedQuery> queries, List<int> clientCounts, int runs, int windowBytes, bool header)
    {
        var sb = new StringBuilder();
        if (header)
        {
            sb.AppendLine("### Query latency over Flight (DoGet with the query as ticket)").AppendLine();
            sb.AppendLine($"Client HTTP/2 stream window: {(windowBytes > 0 ? $"{windowBytes / 1024} KiB (`--client-window-kb`)" : ".NET's default (64 KiB initial)")} unless a row says otherwise.").AppendLine();
            sb.AppendLine("| clients | query | rows | p50 ms | p99 ms | max ms | queries/s | CPU ms/query | KiB allocated/query | runs |");
            sb.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        }
        string windowLabel = windowBytes != s_clientWindowBytes ? $" (client window {windowBytes / 1024} KiB)" : "";
        foreach (int n in clientCounts)
        {
            var channels = Enumerable.Range(0, n).Select(_ => Channel(address, windowBytes)).ToList();
            try
            {
                // Every query of this client count is warmed before any is timed: otherwise the first one timed carries
                // the count's one-off work (thread-pool growth, the concurrent path's code reaching tier 1, a gen2 GC).
                foreach (var q in queries)
                {
                    var warmClients = channels.Select(c => new FlightClient(c)).ToList();
                    await SteadyState.WarmAsync(n, () => Task.WhenAll(warmClients.Select(c => DrainAsync(c, q.Text))));
                }
                foreach (var q in queries)
                {
                    var clients = channels.Select(c => new FlightClient(c)).ToList();
                    long rows = 0;
                    // Steady state first (tier-1 code, as in a long-running server), every client at once.
                    var (warmRounds, quiet) = await SteadyState.WarmAsync(n, () => Task.WhenAll(clients.Select(async c => rows = await DrainAsync(c, q.Text))));
                    int warmRuns = warmRounds * n;
                    var jit = SteadyState.JitMark.Now();
                    var perClient = clients.Select(_ => new LatencySamples()).ToList();
                    var runtime0 = RuntimeThreadCpu.Now();
                    var cpu0 = ProcessCpu.Seconds();
                    var sw = Stopwatch.StartNew();
                    await Task.WhenAll(clients.Select((c, i) => Task.Run(async () =>
                    {
                        for (int k = 0; k < runs; k++)
                        {
                            long t0 = Stopwatch.GetTimestamp();
                            await DrainAsync(c, q.Text);
                            perClient[i].Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                        }
                    })));
                    double wall = sw.Elapsed.TotalSeconds, cpuMs = (ProcessCpu.Seconds() - cpu0) * 1000 / (n * runs);
                    var runtime = RuntimeThreadCpu.Now().Since(runtime0);
                    double allocKiB = jit.AllocatedPerQuery(n * runs) / 1024;
                    var all = new LatencySamples();
                    foreach (var s in perClient) s.CopyTo(all);
                    Console.WriteLine($"  {n,2} clients{windowLabel} {q.Name,-26} rows {rows,7:N0}  p50 {all.P50,8:F2} ms  p99 {all.P99,8:F2} ms  max {all.Max,8:F2}  " +
                                      $"{n * runs / wall,7:F0} q/s  cpu {cpuMs,6:F2} ms/query (load {IngestBenchmark.LoadAverage()}); " +
                                      $"warm-up {warmRuns} runs{(quiet ? "" : " (JIT not yet quiet)")}, {jit.Since(n * runs)}; " +
                                      $"of the CPU/query: tiered-JIT thread {runtime.Jit * 1000 / (n * runs):F2} ms, GC threads {runtime.Gc * 1000 / (n * runs):F2} ms");
                    sb.AppendLine(CultureInfo.InvariantCulture, $"| {n}{windowLabel} | {q.Name} | {rows:N0} | {all.P50:F2} | {all.P99:F2} | {all.Max:F2} | {n * runs / wall:F0} | {cpuMs:F2} | {allocKiB:F0} | {all.Count} |");
                }
            }
            finally
            {
                foreach (var c in channels) c.Dispose();
            }
        }
        return sb.ToString(); // the caller ends the table
    }

    private static async Task<long> DrainAsync(FlightClient client, string ticket)
    {
        using var call = client.GetStream(new FlightTicket(ticket), Auth);
        long rows = 0;
        while (await call.ResponseStream.MoveNext())
        {
            using var batch = call.ResponseStream.Current;
            rows += batch.Length;
        }
        return rows;
    }

    private static double Median(List<double> values)
    {
        var v = values.Order().ToList();
        return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
    }
}
