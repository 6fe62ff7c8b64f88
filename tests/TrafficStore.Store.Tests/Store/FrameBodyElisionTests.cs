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
/// Frame bytes that equal an HTTP body are stored once (in payloads) and put back on read: export and
/// packets queries give every frame exactly as captured, whatever the segmentation (headers and body in
/// one segment, pipelined messages, overlapping and conflicting retransmissions, batches smaller than a body).
/// </summary>
public class FrameBodyElisionTests
{
    private const string Client = "10.0.0.1", Server = "10.0.0.2";
    private const ushort ClientPort = 40000, ServerPort = 80;

    /// <summary>
    /// One keep-alive connection: a request and a pipelined second request in one segment; response 1
    /// (headers + the first 500 body bytes in one segment), body segments, a retransmission overlapping
    /// old and new bytes, a retransmission of the same range with different bytes, and a last segment holding
    /// the end of body 1, response 2's headers and all of body 2. Expected bytes are the frames written here.
    /// </summary>
    private static (string Path, List<byte[]> Frames, byte[] Body1, byte[] Body2) WriteCapture(string dir)
    {
        var random = new Random(42);
        var body1 = new byte[5000];
        var body2 = new byte[700];
        random.NextBytes(body1);
        random.NextBytes(body2);
        var head1 = "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 5000\r\n\r\n"u8.ToArray();
        var head2 = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 700\r\n\r\n"u8.ToArray();
        var requests = "GET /a.jpg HTTP/1.1\r\nHost: shop\r\n\r\nGET /b.bin HTTP/1.1\r\nHost: shop\r\n\r\n"u8.ToArray();
        byte[] response = [.. head1, .. body1, .. head2, .. body2];

        uint c = 1000, s = 50_000; // initial sequence numbers
        var frames = new List<byte[]>
        {
            Frame(true, c, 0, Syn, []),
            Frame(false, s, c + 1, Syn | Ack, []),
            Frame(true, c + 1, s + 1, Ack, []),
            Frame(true, c + 1, s + 1, Ack | Psh, requests),
        };
        uint r = s + 1, ack = c + 1 + (uint)requests.Length;
        int firstEnd = head1.Length + 500;
        frames.Add(Frame(false, r, ack, Ack | Psh, response[..firstEnd])); // headers + body start
        int pos = firstEnd;
        var cuts = new[] { 1460, 1460, 1000 };
        foreach (var len in cuts)
        {
            frames.Add(Frame(false, r + (uint)pos, ack, Ack, response[pos..(pos + len)]));
            pos += len;
        }
        // Retransmission overlapping the last 300 sent bytes and 400 new ones.
        frames.Add(Frame(false, r + (uint)(pos - 300), ack, Ack, response[(pos - 300)..(pos + 400)]));
        // The same new range again, with different bytes (the reassembler keeps the first copy).
        var conflicting = response[pos..(pos + 400)];
        for (int i = 0; i < conflicting.Length; i += 7) conflicting[i] ^= 0xFF;
        frames.Add(Frame(false, r + (uint)pos, ack, Ack, conflicting));
        pos += 400;
        frames.Add(Frame(false, r + (uint)pos, ack, Ack | Psh, response[pos..])); // end of body 1, response 2
        uint end = r + (uint)response.Length;
        frames.Add(Frame(true, ack, end, Ack | Fin, []));
        frames.Add(Frame(false, end, ack + 1, Ack | Fin, []));
        frames.Add(Frame(true, ack + 1, end + 1, Ack, []));

        var path = System.IO.Path.Combine(dir, "elision.pcap");
        using (var file = File.Create(path))
        using (var writer = new PcapWriter(file, LinkType.Ethernet, snaplen: 65535, nanosecond: true))
        {
            long ts = 1_767_225_600_000_000_000; // 2026-01-01
            foreach (var f in frames) writer.WriteFrame(ts += 1_000_000, f, f.Length);
        }
        return (path, frames, body1, body2);
    }

    [Theory]
    [InlineData(16_384)] // one batch: every body is known before its frames are sent
    [InlineData(2)]      // two frames per batch: bodies complete several batches after their first frames
    public async Task ExportAndPacketsQueryGiveFramesAsCapturedWhileBodiesAreStoredOnce(int batchRows)
    {
        using var dir = new TempDir();
        var (path, frames, body1, body2) = WriteCapture(dir.Path);
        await using var db = OpenDatabase(dir.Path);
        var summary = await new CaptureIngestor(db, new CaptureIngestOptions { BatchRows = batchRows }).IngestFileAsync(path);
        await db.Engine.FlushAsync();
        await using var client = new LocalTrafficClient(db);

        // The bodies are in payloads once.
        var bodies = new List<byte[]>();
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Payloads).Select("body")))
            for (int i = 0; i < b.Length; i++) bodies.Add(((BinaryArray)b.Column(0)).GetBytes(i).ToArray());
        Assert.Contains(bodies, b => b.AsSpan().SequenceEqual(body1));
        Assert.Contains(bodies, b => b.AsSpan().SequenceEqual(body2));

        // On disk, frames lack those bytes (a frame's stored bytes: its frame_header template and data).
        long stored = 0, elided = 0;
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Packets).Select("data", "body_len", "frame_header")))
        {
            var data = (BinaryArray)b.Column(0);
            var len = (Int64Array)b.Column(1);
            var header = (BinaryArray)b.Column(2);
            for (int i = 0; i < b.Length; i++) { stored += data.GetBytes(i).Length + header.GetBytes(i).Length; elided += len.GetValue(i) ?? 0; }
        }
        long captured = frames.Sum(f => (long)f.Length);
        Assert.Equal(captured, stored + elided);
        if (batchRows > 2) Assert.True(elided >= body1.Length + body2.Length - 64, $"{elided} bytes elided");
        else Assert.True(elided > 0);

        // Export of the connection: every frame byte for byte.
        var exported = await PcapExportTests.Export(client, StoreIds.Global(summary.CaptureId, 0), dir.Path);
        Assert.Equal(frames.Count, exported.Count);
        for (int i = 0; i < frames.Count; i++) Assert.True(frames[i].AsSpan().SequenceEqual(exported[i].Data), $"exported frame {i + 1}");

        // Packets queries: whole data, also when only data is selected, and the other columns untouched.
        await AssertQueryData(client, "packets", frames);
        await AssertQueryData(client, "packets select frame, data", frames);
        var onlyFrames = await client.QueryAsync("packets select frame");
        await foreach (var b in onlyFrames.Batches) Assert.Equal(["frame"], b.Schema.FieldsList.Select(f => f.Name));
    }

    private static async Task AssertQueryData(ITrafficClient client, string query, List<byte[]> frames)
    {
        var result = await client.QueryAsync(query);
        var seen = new Dictionary<long, byte[]>();
        await foreach (var b in result.Batches)
        {
            var frame = (Int64Array)b.Column("frame");
            var data = (BinaryArray)b.Column("data");
            for (int i = 0; i < b.Length; i++) seen[frame.GetValue(i)!.Value] = data.GetBytes(i).ToArray();
        }
        Assert.Empty(result.Warnings);
        Assert.Equal(frames.Count, seen.Count);
        for (int i = 0; i < frames.Count; i++) Assert.True(frames[i].AsSpan().SequenceEqual(seen[i + 1]), $"{query}: frame {i + 1}");
    }

    /// <summary>A real capture (HTTP/1 media bodies): bytes are elided and every frame still reads back as captured.</summary>
    [Fact]
    public async Task MixedCaptureFramesReadBackWhole()
    {
        var path = Pcap("mixed-large-many-protocols.pcap");
        Assert.True(File.Exists(path), path);
        var original = PcapExportTests.ReadFrames(path);
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        await new CaptureIngestor(db).IngestFileAsync(path);
        await db.Engine.FlushAsync();
        await using var client = new LocalTrafficClient(db);

        long elided = 0;
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Packets).Select("body_len")))
        {
            var len = (Int64Array)b.Column(0);
            for (int i = 0; i < b.Length; i++) elided += len.GetValue(i) ?? 0;
        }
        long captured = original.Sum(f => (long)f.Data.Length);
        Assert.True(elided > captured / 2, $"{elided} of {captured} frame bytes elided");

        var result = await client.QueryAsync("packets select frame, data");
        var seen = new Dictionary<long, byte[]>();
        await foreach (var b in result.Batches)
        {
            var frame = (Int64Array)b.Column(0);
            var data = (BinaryArray)b.Column(1);
            for (int i = 0; i < b.Length; i++) seen[frame.GetValue(i)!.Value] = data.GetBytes(i).ToArray();
        }
        Assert.Equal(original.Count, seen.Count);
        foreach (var f in original) Assert.True(f.Data.AsSpan().SequenceEqual(seen[f.Number]), $"frame {f.Number}");
    }

    // ------------------------------------------------------------------ frames

    private const byte Fin = TestTcpFrames.Fin, Syn = TestTcpFrames.Syn, Psh = TestTcpFrames.Psh, Ack = TestTcpFrames.Ack;

    private static byte[] Frame(bool fromClient, uint seq, uint ack, byte flags, byte[] payload) =>
        TestTcpFrames.Frame(ClientPort, fromClient, seq, ack, flags, payload);
}
