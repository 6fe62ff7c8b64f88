using Apache.Arrow.Flight;
using Apache.Arrow.Flight.Client;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tests.Oracle;
using TrafficStore.Server.Client;
using TrafficStore.Server.Flight;
using TrafficStore.Server.Hosting;
using TrafficStore.Server.Security;
using TrafficStore.Server.Tests.Support;
using TrafficStore.Store;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Query;

namespace TrafficStore.Server.Tests;

/// <summary>
/// `export.pcap` streams: a window export larger than one result arrives as several results of at most
/// 1 MiB that concatenate to the captured frames (stock client) and to what the local client writes;
/// mixed link types come as pcapng (refused as classic pcap, InvalidArgument); the server's size limit
/// (and a caller's lower max_bytes) end the call with ResourceExhausted and the server keeps serving.
/// </summary>
public class PcapExportStreamingTests
{
    private const string Large = "mixed-large-many-protocols.pcap";   // 2.9 MB: three results
    private const string Mixed = "pcapng-many-interfaces.pcapng";     // Ethernet and BSD loopback frames
    private const string Window = """{"from":0,"to":4000000000000000000}""";

    /// <summary>A server on a new store holding <paramref name="captures"/>, with <paramref name="maxExportBytes"/>.</summary>
    private sealed class Served : IAsyncDisposable
    {
        private readonly TempStore _dir = new();
        public TrafficDatabase Database { get; private set; } = null!;
        public LocalTrafficClient Local { get; private set; } = null!;
        public TrafficServer Server { get; private set; } = null!;
        public FlightClient Client { get; private set; } = null!;
        private GrpcChannel _channel = null!;

        public static async Task<Served> StartAsync(long maxExportBytes, params string[] captures)
        {
            var s = new Served();
            s.Database = TrafficDatabase.Open(s._dir.Path);
            foreach (var c in captures) await new CaptureIngestor(s.Database).IngestFileAsync(SharedData.Pcap(c));
            s.Local = new LocalTrafficClient(s.Database);
            s.Server = await TrafficServer.StartAsync(new ServedStore(s.Database, s.Local), TokenFile.Parse(TestServer.TokenJson), new TrafficServerOptions
            {
                Listen = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
                MinimumLogLevel = LogLevel.Warning,
                JsonLogs = false,
                MaxExportBytes = maxExportBytes,
            });
            s._channel = GrpcChannel.ForAddress(s.Server.Address);
            s.Client = new FlightClient(s._channel);
            return s;
        }

        public async Task<List<byte[]>> ExportAsync(string body)
        {
            using var call = Client.DoAction(new FlightAction("export.pcap", body), TestServer.Auth(TestServer.Admin));
            var results = new List<byte[]>();
            while (await call.ResponseStream.MoveNext()) results.Add(call.ResponseStream.Current.Body.ToByteArray());
            return results;
        }

        public async ValueTask DisposeAsync()
        {
            _channel.Dispose();
            await Server.DisposeAsync();
            await Local.DisposeAsync();
            await Database.DisposeAsync();
            _dir.Dispose();
        }
    }

    private sealed class TempStore : IDisposable
    {
        public string Path { get; } = System.IO.Directory.CreateTempSubdirectory("ts-export-").FullName;
        public void Dispose()
        {
            try { System.IO.Directory.Delete(Path, recursive: true); } catch (IOException) { }
        }
    }

    private static List<(long Ts, int Length, LinkType Link, string Hex)> Frames(byte[] file)
    {
        var frames = new List<(long, int, LinkType, string)>();
        using var source = CaptureFile.Open(new MemoryStream(file), "export");
        var frame = new CaptureFrame();
        while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame)
            frames.Add((frame.TimestampNs, frame.OriginalLength, frame.LinkType, Convert.ToHexString(frame.Data)));
        return frames;
    }

    [Fact]
    public async Task AWindowLargerThanOneResultStreamsInChunksOfTheCapturedFrames()
    {
        await using var s = await Served.StartAsync(TrafficServerOptions.DefaultMaxExportBytes, Large);
        var results = await s.ExportAsync(Window);
        Assert.True(results.Count >= 3, $"{results.Count} results");
        Assert.All(results, r => Assert.InRange(r.Length, 1, TrafficFlightServer.PcapChunkBytes));
        var file = results.SelectMany(r => r).ToArray();
        Assert.Equal(Frames(File.ReadAllBytes(SharedData.Pcap(Large))), Frames(file));

        using var local = new MemoryStream();
        await s.Local.ExportPcapAsync(new PcapExportRequest { FromNs = 0, ToNs = 4_000_000_000_000_000_000 }, local);
        Assert.Equal(local.ToArray(), file);

        // The CLI's client writes results as they come and takes the summary from the trailer.
        await using var client = new FlightTrafficClient(s.Server.Address, TestServer.Admin);
        using var viaClient = new MemoryStream();
        var summary = await client.ExportPcapAsync(new PcapExportRequest { FromNs = 0, ToNs = 4_000_000_000_000_000_000 }, viaClient);
        Assert.Equal(file, viaClient.ToArray());
        Assert.Equal((4709L, file.LongLength, PcapExportFormat.Pcap, 1), (summary.Frames, summary.Bytes, summary.Format, summary.LinkType));
    }

    [Fact]
    public async Task MixedLinkTypesArriveAsPcapNgAndAreRefusedAsClassicPcap()
    {
        await using var s = await Served.StartAsync(TrafficServerOptions.DefaultMaxExportBytes, Mixed);
        var file = (await s.ExportAsync(Window)).SelectMany(r => r).ToArray();
        Assert.Equal(0x0A0D0D0Au, BitConverter.ToUInt32(file, 0)); // pcapng Section Header Block
        Assert.Equal(Frames(File.ReadAllBytes(SharedData.Pcap(Mixed))), Frames(file));

        var refused = await Assert.ThrowsAsync<RpcException>(() => s.ExportAsync("""{"from":0,"to":4000000000000000000,"format":"pcap"}"""));
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
        Assert.Contains("pcapng", refused.Status.Detail);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => s.ExportAsync("""{"from":0,"to":1,"format":"erf"}"""));
        Assert.Equal(StatusCode.InvalidArgument, unknown.StatusCode);

        await using var client = new FlightTrafficClient(s.Server.Address, TestServer.Admin);
        using var output = new MemoryStream();
        var summary = await client.ExportPcapAsync(new PcapExportRequest { FromNs = 0, ToNs = 4_000_000_000_000_000_000, Format = PcapExportFormat.PcapNg }, output);
        Assert.Equal((64L, PcapExportFormat.PcapNg, -1), (summary.Frames, summary.Format, summary.LinkType));
        Assert.Equal(new[] { 0, 1 }, summary.LinkTypes);
        await Assert.ThrowsAsync<QueryException>(() => client.ExportPcapAsync(
            new PcapExportRequest { FromNs = 0, ToNs = 4_000_000_000_000_000_000, Format = PcapExportFormat.Pcap }, new MemoryStream()));
    }

    [Fact]
    public async Task TheServerLimitEndsTheCallWithResourceExhausted()
    {
        const long limit = 100_000;
        await using var s = await Served.StartAsync(limit, Large);
        var received = new List<byte[]>();
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = s.Client.DoAction(new FlightAction("export.pcap", Window), TestServer.Auth(TestServer.Admin));
            while (await call.ResponseStream.MoveNext()) received.Add(call.ResponseStream.Current.Body.ToByteArray());
        });
        Assert.Equal(StatusCode.ResourceExhausted, e.StatusCode);
        Assert.Contains($"limit of {limit} bytes", e.Status.Detail);
        Assert.True(received.Sum(r => r.Length) <= limit);

        // A caller may lower the limit, not raise it.
        var lower = await Assert.ThrowsAsync<RpcException>(() => s.ExportAsync("""{"from":0,"to":4000000000000000000,"max_bytes":5000}"""));
        Assert.Contains("limit of 5000 bytes", lower.Status.Detail);
        var higher = await Assert.ThrowsAsync<RpcException>(() => s.ExportAsync("""{"from":0,"to":4000000000000000000,"max_bytes":1000000000}"""));
        Assert.Contains($"limit of {limit} bytes", higher.Status.Detail);

        await using var client = new FlightTrafficClient(s.Server.Address, TestServer.Admin);
        await Assert.ThrowsAsync<PcapExportLimitException>(() => client.ExportPcapAsync(new PcapExportRequest { FromNs = 0, ToNs = 4_000_000_000_000_000_000 }, new MemoryStream()));

        // One connection fits; the server goes on serving.
        var small = await s.ExportAsync("""{"connection_id":""" + await AnyConnection(s) + "}");
        Assert.NotEmpty(Frames(small.SelectMany(r => r).ToArray()));
    }

    [Fact]
    public async Task AClientThatStopsReadingDoesNotHoldTheServer()
    {
        await using var s = await Served.StartAsync(TrafficServerOptions.DefaultMaxExportBytes, Large);
        using (var cts = new CancellationTokenSource())
        {
            using var call = s.Client.DoAction(new FlightAction("export.pcap", Window), TestServer.Auth(TestServer.Admin), null, cts.Token);
            Assert.True(await call.ResponseStream.MoveNext());
            Assert.InRange(call.ResponseStream.Current.Body.Length, 1, TrafficFlightServer.PcapChunkBytes);
            cts.Cancel();
        }
        var again = (await s.ExportAsync(Window)).SelectMany(r => r).ToArray();
        Assert.Equal(4709, Frames(again).Count);
    }

    private static async Task<long> AnyConnection(Served s)
    {
        var result = await s.Local.QueryAsync("connections where transport=tcp select connection_id limit 1");
        await foreach (var b in result.Batches)
            if (b.Length > 0) return ((Apache.Arrow.Int64Array)b.Column(0)).GetValue(0)!.Value;
        throw new InvalidOperationException("no TCP connection in the store");
    }
}
