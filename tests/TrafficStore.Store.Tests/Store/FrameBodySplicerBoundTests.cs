using System.Buffers.Binary;
using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Capture;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// The splicer's body cache stays bounded (<see cref="PayloadBodyCache"/>): bodies leave when their last frame
/// has passed, the least recently used leave beyond the byte bound, and a body that left and is needed again is
/// read again — frames read back as captured whatever the bound, with connections whose long bodies interleave
/// across many small batches.
/// </summary>
public class FrameBodySplicerBoundTests
{
    private const int Connections = 4, ResponsesPerConnection = 2, BodyBytes = 12_000, Segment = 1000;

    /// <summary>
    /// <see cref="Connections"/> keep-alive connections, each with two pipelined GETs answered by two responses
    /// whose bodies (<see cref="BodyBytes"/> random bytes) go out in <see cref="Segment"/>-byte segments, the
    /// connections' segments interleaved round-robin. Expected bytes are the frames written here.
    /// </summary>
    private static (string Path, List<byte[]> Frames) WriteCapture(string dir)
    {
        var random = new Random(7);
        var frames = new List<byte[]>();
        // Per connection, its response segments: a segment never holds bytes of two messages (one elided range per frame).
        var segments = new List<byte[]>[Connections];
        var ends = new (uint Server, uint Client)[Connections];
        for (int j = 0; j < Connections; j++)
        {
            ushort port = (ushort)(40000 + j);
            uint c = 1000u * (uint)(j + 1), s = 50_000u * (uint)(j + 1);
            var requests = "GET /a HTTP/1.1\r\nHost: shop\r\n\r\nGET /b HTTP/1.1\r\nHost: shop\r\n\r\n"u8.ToArray();
            frames.Add(TestTcpFrames.Frame(port, true, c, 0, TestTcpFrames.Syn, []));
            frames.Add(TestTcpFrames.Frame(port, false, s, c + 1, TestTcpFrames.Syn | TestTcpFrames.Ack, []));
            frames.Add(TestTcpFrames.Frame(port, true, c + 1, s + 1, TestTcpFrames.Ack, []));
            frames.Add(TestTcpFrames.Frame(port, true, c + 1, s + 1, TestTcpFrames.Ack | TestTcpFrames.Psh, requests));
            uint seq = s + 1, ack = c + 1 + (uint)requests.Length;
            segments[j] = [];
            for (int k = 0; k < ResponsesPerConnection; k++)
            {
                var body = new byte[BodyBytes];
                random.NextBytes(body);
                byte[] message = [.. System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {BodyBytes}\r\n\r\n"), .. body];
                for (int pos = 0; pos < message.Length; pos += Segment)
                {
                    var part = message[pos..Math.Min(pos + Segment, message.Length)];
                    segments[j].Add(TestTcpFrames.Frame(port, false, seq, ack, TestTcpFrames.Ack, part));
                    seq += (uint)part.Length;
                }
            }
            ends[j] = (seq, ack);
        }
        for (int k = 0; k < segments[0].Count; k++)
            for (int j = 0; j < Connections; j++) frames.Add(segments[j][k]);
        for (int j = 0; j < Connections; j++)
        {
            var (end, ack) = ends[j];
            frames.Add(TestTcpFrames.Frame((ushort)(40000 + j), true, ack, end, TestTcpFrames.Ack | TestTcpFrames.Fin, []));
            frames.Add(TestTcpFrames.Frame((ushort)(40000 + j), false, end, ack + 1, TestTcpFrames.Ack | TestTcpFrames.Fin, []));
        }

        var path = System.IO.Path.Combine(dir, "interleaved.pcap");
        using (var file = File.Create(path))
        using (var writer = new PcapWriter(file, LinkType.Ethernet, snaplen: 65535, nanosecond: true))
        {
            long ts = 1_767_225_600_000_000_000; // 2026-01-01
            foreach (var f in frames) writer.WriteFrame(ts += 1_000_000, f, f.Length);
        }
        return (path, frames);
    }

    /// <summary>Reads every packets row in batches of <paramref name="batchRows"/> through a splicer with the given bound.</summary>
    private static async Task<(FrameBodySplicer Splicer, Dictionary<long, byte[]> Data)> ReadAll(TrafficDatabase db, int batchRows, long cacheBytes)
    {
        var splicer = new FrameBodySplicer(db.Engine, cacheBytes);
        var spec = new QuerySpec(TrafficTables.Packets)
        {
            Columns = ["frame", "data", .. FrameBodySplicer.ReferenceColumns],
            MaxBatchRows = batchRows,
        };
        var data = new Dictionary<long, byte[]>();
        await foreach (var stored in db.Engine.QueryAsync(spec))
        {
            var whole = await splicer.SpliceAsync(stored, CancellationToken.None);
            var frame = (Int64Array)whole.Column("frame");
            var bytes = (BinaryArray)whole.Column("data");
            for (int i = 0; i < whole.Length; i++) data[frame.GetValue(i)!.Value] = bytes.GetBytes(i).ToArray();
            // Between batches the cache holds at most its bound, or the bodies the batch used and did not finish.
            var exchange = (Int64Array)stored.Column("body_exchange_id");
            var direction = (StringArray)stored.Column("body_direction");
            var open = new HashSet<(long, string)>();
            for (int i = 0; i < stored.Length; i++)
                if (exchange.GetValue(i) is long x) open.Add((x, direction.GetString(i)));
            long openBytes = open.Sum(k => splicer.Cache.HeldBytes(k.Item1, k.Item2));
            Assert.True(splicer.Cache.Bytes <= Math.Max(cacheBytes, openBytes), $"{splicer.Cache.Bytes} bytes cached, bound {cacheBytes}, open {openBytes}");
            // Those are at most one body per connection (its responses follow each other).
            Assert.True(openBytes <= Connections * (BodyBytes + PayloadBodyCache.EntryOverheadBytes));
        }
        return (splicer, data);
    }

    private static async Task<(TrafficDatabase Db, List<byte[]> Frames)> Ingest(TempDir dir)
    {
        var (path, frames) = WriteCapture(dir.Path);
        var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(path);
        await db.Engine.FlushAsync();

        // The test means something only if the bodies' bytes left the frames.
        long elided = 0;
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Packets).Select("body_len")))
            for (int i = 0; i < b.Length; i++) elided += ((Int64Array)b.Column(0)).GetValue(i) ?? 0;
        Assert.Equal((long)Connections * ResponsesPerConnection * BodyBytes, elided);
        return (db, frames);
    }

    private static void AssertFramesAsCaptured(List<byte[]> frames, Dictionary<long, byte[]> data)
    {
        Assert.Equal(frames.Count, data.Count);
        for (int i = 0; i < frames.Count; i++) Assert.True(frames[i].AsSpan().SequenceEqual(data[i + 1]), $"frame {i + 1}");
    }

    /// <summary>
    /// With room to spare, each body is read once and leaves when its last frame passes: the cache never holds more
    /// than the bodies still open (one per connection: its responses follow each other), and is empty at the end.
    /// </summary>
    [Fact]
    public async Task BodiesLeaveWhenTheirLastFramePasses()
    {
        using var dir = new TempDir();
        var (db, frames) = await Ingest(dir);
        await using var _ = db;

        var (splicer, data) = await ReadAll(db, batchRows: 3, FrameBodySplicer.DefaultCacheBytes);

        AssertFramesAsCaptured(frames, data);
        Assert.Equal(0, splicer.Unresolved);
        const int bodies = Connections * ResponsesPerConnection;
        Assert.Equal(bodies, splicer.BodiesRead);
        Assert.Equal(bodies, splicer.Cache.Finished);
        Assert.Equal(0, splicer.Cache.Evicted);
        Assert.Equal(0, splicer.Cache.Count);
        // Open bodies: at most one per connection at a time.
        Assert.True(splicer.Cache.PeakBytesBetweenBatches <= Connections * (BodyBytes + PayloadBodyCache.EntryOverheadBytes),
            $"{splicer.Cache.PeakBytesBetweenBatches} bytes held between batches");
    }

    /// <summary>
    /// A bound smaller than the open bodies (none, or about one body for four interleaved connections) and batches of
    /// fewer frames than connections: bodies the last batch did not use are evicted while their frames still come,
    /// read again when needed, and every frame still reads back as captured.
    /// </summary>
    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 3)]
    [InlineData(BodyBytes + PayloadBodyCache.EntryOverheadBytes, 2)]
    [InlineData(BodyBytes + PayloadBodyCache.EntryOverheadBytes, 3)]
    public async Task TinyBoundReadsEvictedBodiesAgainAndFramesStayWhole(long cacheBytes, int batchRows)
    {
        using var dir = new TempDir();
        var (db, frames) = await Ingest(dir);
        await using var _ = db;

        var (splicer, data) = await ReadAll(db, batchRows, cacheBytes);

        AssertFramesAsCaptured(frames, data);
        Assert.Equal(0, splicer.Unresolved);
        // A batch holds frames of fewer connections than there are, and the bound does not fit the others'
        // open bodies: they were evicted while their frames still came, and read again.
        Assert.True(splicer.Cache.Evicted > 0);
        Assert.True(splicer.BodiesRead > Connections * ResponsesPerConnection, $"{splicer.BodiesRead} bodies read");
    }

    /// <summary>The same bound through the public read paths: packets queries and pcap export.</summary>
    [Fact]
    public async Task ClientReadsHonourTheConfiguredBound()
    {
        using var dir = new TempDir();
        var (db, frames) = await Ingest(dir);
        await using var _ = db;
        await using var client = new LocalTrafficClient(db, exportOptions: new TrafficStore.Store.Client.Export.PcapExportOptions { BodyCacheBytes = 0, BatchRows = 3 });

        var result = await client.QueryAsync("packets select frame, data");
        var seen = new Dictionary<long, byte[]>();
        await foreach (var b in result.Batches)
        {
            var frame = (Int64Array)b.Column(0);
            var bytes = (BinaryArray)b.Column(1);
            for (int i = 0; i < b.Length; i++) seen[frame.GetValue(i)!.Value] = bytes.GetBytes(i).ToArray();
        }
        Assert.Empty(result.Warnings);
        AssertFramesAsCaptured(frames, seen);

        var file = System.IO.Path.Combine(dir.Path, "export.pcap");
        await using (var output = File.Create(file))
        {
            var summary = await client.ExportPcapAsync(new PcapExportRequest { FromNs = 1_767_225_600_000_000_000, ToNs = 1_767_225_700_000_000_000 }, output);
            Assert.Empty(summary.Warnings);
        }
        var exported = PcapExportTests.ReadFrames(file);
        Assert.Equal(frames.Count, exported.Count);
        for (int i = 0; i < frames.Count; i++) Assert.True(frames[i].AsSpan().SequenceEqual(exported[i].Data), $"exported frame {i + 1}");
    }

    [Fact]
    public void CacheDropsFinishedBodiesAndLeastRecentlyUsedBeyondItsBoundButNotTheLastBatchs()
    {
        var cache = new PayloadBodyCache(capacityBytes: 2 * (100 + PayloadBodyCache.EntryOverheadBytes));
        cache.Add(1, "s2c", new byte[100]);
        cache.Add(2, "s2c", new byte[100]);
        cache.Add(3, "s2c", new byte[100]);
        cache.Trim(); // all three were used by this batch: kept, above the bound
        Assert.Equal(0, cache.Evicted);
        Assert.Equal(3, cache.Count);
        Assert.True(cache.TryGet(1, "s2c", out _)); // the next batch uses 1 only: 2 is the least recently used
        cache.Trim();
        Assert.Equal(1, cache.Evicted);
        Assert.False(cache.TryGet(2, "s2c", out _));
        Assert.True(cache.TryGet(3, "s2c", out var three) && three!.Length == 100);

        cache.Finish(1, "s2c");
        Assert.Equal(1, cache.Finished);
        Assert.False(cache.TryGet(1, "s2c", out _));
        Assert.Equal(100 + PayloadBodyCache.EntryOverheadBytes, cache.Bytes);

        // A row not in the store is remembered (no query per batch), at its overhead only.
        cache.Add(4, "c2s", null);
        Assert.True(cache.TryGet(4, "c2s", out var missing) && missing is null);
        Assert.Equal(100 + 2 * PayloadBodyCache.EntryOverheadBytes, cache.Bytes);
        Assert.Equal(3 * (100 + PayloadBodyCache.EntryOverheadBytes), cache.PeakBytes);
    }
}
