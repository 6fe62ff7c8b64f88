using TrafficStore.Store.Client;
using TrafficStore.Store.Client.Export;
using TrafficStore.Store.Ingest;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>
/// An export merged in passes (more overlapping captures than it holds open) spills into the store's own tmp folder, not
/// the system temp folder (tmpfs or read-only on a pod); the spill files are gone after success, failure and cancellation,
/// those a crash left are deleted when the store opens, and <see cref="PcapExportOptions.SpillDirectory"/> moves them.
/// </summary>
public class ExportSpillDirectoryTests
{
    private static readonly PcapExportRequest Everything = new() { FromNs = 0, ToNs = 4_000_000_000_000_000_000, Format = PcapExportFormat.PcapNg };

    /// <summary>Output that runs <paramref name="onFirstWrite"/> when the first bytes come: all frames are spilled by then.</summary>
    private sealed class FirstWriteStream(Action onFirstWrite) : MemoryStream
    {
        private bool _seen;
        public override void Write(ReadOnlySpan<byte> buffer) { Seen(); base.Write(buffer); }
        public override void Write(byte[] buffer, int offset, int count) { Seen(); base.Write(buffer, offset, count); }
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) { Seen(); return base.WriteAsync(buffer, ct); }
        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) { Seen(); return base.WriteAsync(buffer, offset, count, ct); }
        private void Seen()
        {
            if (_seen) return;
            _seen = true;
            onFirstWrite();
        }
    }

    private static async Task<TrafficDatabase> ThreeOverlappingCaptures(TempDir dir)
    {
        var input = Pcap("http11-chunked-gzip-multi-conn.pcap");
        var db = OpenDatabase(Path.Combine(dir.Path, "store"));
        for (int i = 0; i < 3; i++)
        {
            var shifted = Path.Combine(dir.Path, $"o{i}.pcap");
            PcapStreamingExportTests.Run("editcap", "-F", "pcap", "-t", $"0.0000{i}3", input, shifted);
            await new CaptureIngestor(db).IngestFileAsync(shifted);
        }
        await db.Engine.FlushAsync();
        return db;
    }

    private static string[] Spills(string directory) =>
        Directory.Exists(directory) ? Directory.GetFiles(directory, "*.spill") : [];

    [Fact]
    public async Task SpillFilesLandUnderTheStoreAndAreGoneAfterSuccessFailureAndCancellation()
    {
        using var dir = new TempDir();
        await using var db = await ThreeOverlappingCaptures(dir);
        var storeTmp = Path.Combine(dir.Path, "store", "tmp");
        Assert.Equal(storeTmp, ExportSpillDirectory.Of(db.Directory));
        await using var client = new LocalTrafficClient(db, exportOptions: new PcapExportOptions { MaxOpenCaptures = 1, ChunkBytes = 4 << 10 });

        // Success: one spill per pass of one capture, all under <store>/tmp while the output is written; none after.
        string[] during = [];
        var summary = await client.ExportPcapAsync(Everything, new FirstWriteStream(() => during = Spills(storeTmp)));
        Assert.True(summary.Frames > 0);
        Assert.Equal(3, during.Length);
        Assert.All(during, f => Assert.StartsWith("export-", Path.GetFileName(f)));
        Assert.Empty(Spills(storeTmp));

        // Failure of the output midway.
        await Assert.ThrowsAsync<IOException>(() => client.ExportPcapAsync(Everything, new FirstWriteStream(() => throw new IOException("disk full"))));
        Assert.Empty(Spills(storeTmp));

        // Cancellation midway.
        using var cts = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            client.ExportPcapAsync(Everything, new FirstWriteStream(() => { cts.Cancel(); cts.Token.ThrowIfCancellationRequested(); }), cts.Token));
        Assert.Empty(Spills(storeTmp));

        // An override puts them elsewhere.
        var elsewhere = Path.Combine(dir.Path, "spill-here");
        await using var moved = new LocalTrafficClient(db, exportOptions: new PcapExportOptions { MaxOpenCaptures = 1, ChunkBytes = 4 << 10, SpillDirectory = elsewhere });
        string[] movedDuring = [], storeDuring = [];
        await moved.ExportPcapAsync(Everything, new FirstWriteStream(() => { movedDuring = Spills(elsewhere); storeDuring = Spills(storeTmp); }));
        Assert.Equal(3, movedDuring.Length);
        Assert.Empty(storeDuring);
        Assert.Empty(Spills(elsewhere));
    }

    [Fact]
    public async Task SpillFilesACrashLeftAreDeletedWhenTheStoreOpens()
    {
        using var dir = new TempDir();
        var store = Path.Combine(dir.Path, "store");
        await (OpenDatabase(store)).DisposeAsync();
        var tmp = ExportSpillDirectory.Of(store);
        Directory.CreateDirectory(tmp);
        File.WriteAllBytes(Path.Combine(tmp, "export-0123456789abcdef0123456789abcdef.spill"), new byte[4096]);
        File.WriteAllBytes(Path.Combine(tmp, "export-fedcba9876543210fedcba9876543210.spill"), new byte[10]);
        File.WriteAllText(Path.Combine(tmp, "notes.txt"), "not ours"); // only the exporter's own files go

        await using var db = OpenDatabase(store);
        Assert.Empty(Spills(tmp));
        Assert.True(File.Exists(Path.Combine(tmp, "notes.txt")));
    }
}
