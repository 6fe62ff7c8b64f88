using System.IO.Compression;
using TrafficStore.Engine.Query;
using TrafficStore.Store.Ingest;
using TrafficStore.Store.Tables;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// A file that is no capture at all is refused before anything is stored (no capture id, no capture_stats row), with an
/// error naming the file and its first bytes; a capture cut short still keeps what comes before the damage.
/// </summary>
public class NonCaptureIngestTests
{
    private const string Capture = "http11-chunked-gzip-multi-conn.pcap";

    private static async Task<List<Dictionary<string, string>>> CaptureStats(TrafficDatabase db) =>
        await Rows(db, new QuerySpec(TrafficTables.CaptureStats).Select("capture_id", "state"));

    [Fact]
    public async Task NonCaptureFilesAreRefusedWithoutTakingACaptureId()
    {
        using var dir = new TempDir();
        var text = Path.Combine(dir.Path, "notes.txt");
        File.WriteAllText(text, "GET / HTTP/1.1\r\n");
        var empty = Path.Combine(dir.Path, "empty.pcap");
        File.WriteAllBytes(empty, []);
        var gzipped = Path.Combine(dir.Path, "capture.pcap.gz");
        await using (var gz = new GZipStream(File.Create(gzipped), CompressionLevel.Fastest))
            await gz.WriteAsync(File.ReadAllBytes(Pcap(Capture)));
        var binary = Path.Combine(dir.Path, "random.bin");
        File.WriteAllBytes(binary, [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08]);

        await using var db = OpenDatabase(Path.Combine(dir.Path, "store"));
        var ingestor = new CaptureIngestor(db);
        var cases = new (string File, string Expected)[]
        {
            (text, "its first bytes are 474554202f204854 (\"GET / HT\"), text"),
            (empty, "the file is empty"),
            (gzipped, "a gzip file: decompress it first (gunzip)"),
            (binary, "its first bytes are 0001020304050607 (\"........\")"),
        };
        foreach (var (file, expected) in cases)
        {
            var e = await Assert.ThrowsAsync<NotACaptureFileException>(() => ingestor.IngestFileAsync(file));
            Assert.Equal(file, e.Path);
            Assert.StartsWith($"{file}: not a pcap or pcapng file: ", e.Message);
            Assert.Contains(expected, e.Message);
            Assert.EndsWith("; nothing was stored", e.Message);
        }
        Assert.Empty(await CaptureStats(db));

        var summary = await ingestor.IngestFileAsync(Pcap(Capture));
        Assert.Equal(1, summary.CaptureId); // none of the refused files took an id
        // Each capture has its 'started' row and its final one.
        Assert.Equal(["1,complete", "1,started"], (await CaptureStats(db)).Select(r => $"{r["capture_id"]},{r["state"]}").Order());
    }

    [Fact]
    public async Task ACaptureCutShortKeepsTheFramesBeforeTheDamage()
    {
        using var dir = new TempDir();
        var whole = File.ReadAllBytes(Pcap(Capture));
        var cut = Path.Combine(dir.Path, "cut.pcap");
        File.WriteAllBytes(cut, whole.AsSpan(0, whole.Length / 2).ToArray());
        int expectedFrames = PcapStreamingExportTests.ReadFrames(cut).Count;

        await using var db = OpenDatabase(Path.Combine(dir.Path, "store"));
        var summary = await new CaptureIngestor(db).IngestFileAsync(cut);
        Assert.NotNull(summary.Error);
        Assert.Equal(expectedFrames, summary.Frames);
        Assert.True(summary.Frames > 0);
        Assert.Equal(["1,error", "1,started"], (await CaptureStats(db)).Select(r => $"{r["capture_id"]},{r["state"]}").Order());
    }
}
