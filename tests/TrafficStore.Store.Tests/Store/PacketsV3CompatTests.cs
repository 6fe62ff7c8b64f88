using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Store.Client;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// A store written before packets v4 (Fixtures/packets-v3-store: frames whole in data, HTTP body bytes
/// elided) still reads every frame as captured, also after v4 rows are added beside its rows.
/// </summary>
public class PacketsV3CompatTests
{
    /// <summary>The captures the fixture holds, by capture id (Fixtures/packets-v3-store.md).</summary>
    private static readonly string[] FixtureCaptures = ["http11-post-multipart-retrans.pcap", "vlan-double-tagged-http.pcap", "ipv6-http.pcap"];

    [Fact]
    public async Task V3StoreReadsBackAsCapturedBesideV4Rows()
    {
        using var dir = new TempDir();
        CopyDirectory(Path.Combine(AppContext.BaseDirectory, "Fixtures", "packets-v3-store"), dir.Path);
        await using var db = OpenDatabase(dir.Path);
        await using var client = new LocalTrafficClient(db);

        // The fixture's frames are v3 rows: no frame_header, and some with body bytes elided.
        long elided = 0, split = 0;
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Packets).Select("body_len", "frame_header")))
        {
            for (int i = 0; i < b.Length; i++) elided += ((Int64Array)b.Column(0)).GetValue(i) ?? 0;
            split += b.Length - b.Column(1).NullCount;
        }
        Assert.True(elided > 0);
        Assert.Equal(0, split);
        await AssertFramesAsCaptured(client, FixtureCaptures);

        // New rows are v4 (split); old and new read back whole, by query and by export.
        var summary = await new CaptureIngestor(db).IngestFileAsync(Pcap("http11-get-simple.pcap"));
        Assert.Equal(FixtureCaptures.Length + 1, summary.CaptureId);
        await db.Engine.FlushAsync();
        await foreach (var b in db.Engine.QueryAsync(new QuerySpec(TrafficTables.Packets)
                           { Filters = [ColumnFilter.Eq("capture_id", summary.CaptureId)] }.Select("frame_header")))
            Assert.Equal(0, b.Column(0).NullCount);
        await AssertFramesAsCaptured(client, [.. FixtureCaptures, "http11-get-simple.pcap"]);

        for (int capture = 1; capture <= FixtureCaptures.Length + 1; capture++)
        {
            var path = Pcap(capture <= FixtureCaptures.Length ? FixtureCaptures[capture - 1] : "http11-get-simple.pcap");
            var original = PcapExportTests.ReadFrames(path);
            var exported = await PcapExportTests.Export(client, StoreIds.Global(capture, 0), dir.Path);
            Assert.NotEmpty(exported);
            foreach (var f in exported)
                Assert.Contains(original, o => o.TimestampNs == f.TimestampNs && o.Data.AsSpan().SequenceEqual(f.Data));
        }
    }

    private static async Task AssertFramesAsCaptured(ITrafficClient client, string[] captures)
    {
        var result = await client.QueryAsync("packets select capture_id, frame, data");
        var seen = new Dictionary<(long, long), byte[]>();
        await foreach (var b in result.Batches)
        {
            var capture = (Int64Array)b.Column(0);
            var frame = (Int64Array)b.Column(1);
            var data = (BinaryArray)b.Column(2);
            for (int i = 0; i < b.Length; i++) seen[(capture.GetValue(i)!.Value, frame.GetValue(i)!.Value)] = data.GetBytes(i).ToArray();
        }
        Assert.Empty(result.Warnings);
        int expected = 0;
        for (int c = 0; c < captures.Length; c++)
            foreach (var f in PcapExportTests.ReadFrames(Pcap(captures[c])))
            {
                expected++;
                Assert.True(f.Data.AsSpan().SequenceEqual(seen[(c + 1, f.Number)]), $"{captures[c]} frame {f.Number}");
            }
        Assert.Equal(expected, seen.Count);
    }

    private static void CopyDirectory(string from, string to)
    {
        Assert.True(Directory.Exists(from), from);
        foreach (var d in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, d)));
        foreach (var f in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(f, Path.Combine(to, Path.GetRelativePath(from, f)));
    }
}
