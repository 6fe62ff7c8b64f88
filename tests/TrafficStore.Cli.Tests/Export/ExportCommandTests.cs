using Apache.Arrow.Ipc;
using TrafficStore.Cli.Tests.Ingest;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Cli.Tests.Export;

public class ExportCommandTests
{
    [Fact]
    public void ExportPcapOfAConnectionAndArrowOfATable()
    {
        const string capture = "http11-chunked-gzip-multi-conn.pcap";
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap(capture)).Exit);
        var (_, ids, _) = store.Run("query", "connections where port=80 select connection_id, pkts_c2s, pkts_s2c limit 1", "--format", "csv");
        var fields = ids.Split('\n')[1].Split(',');
        var pcap = Path.Combine(store.Dir, "c.pcap");
        var (exit, output, error) = store.Run("export", "pcap", "--connection", fields[0], "-o", pcap);
        Assert.True(exit == 0, error);
        using (var source = CaptureFile.Open(pcap))
        {
            var frame = new CaptureFrame();
            long n = 0;
            while (source.TryReadNext(ref frame) == CaptureReadStatus.Frame) n++;
            Assert.Equal(long.Parse(fields[1]) + long.Parse(fields[2]), n);
        }

        var arrow = Path.Combine(store.Dir, "http.arrow");
        // What a killed export to the same file left: removed, and said.
        var leftover = Path.Combine(store.Dir, $".http.arrow.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(leftover, [0xAA]);
        File.SetLastWriteTimeUtc(leftover, DateTime.UtcNow.AddHours(-1));
        (exit, output, error) = store.Run("export", "arrow", "--table", "http", "--where", "status=200", "-o", arrow);
        Assert.True(exit == 0, error);
        Assert.Equal($"trafficstore export arrow: removed {leftover}, left by an export that was killed\n", error);
        Assert.False(File.Exists(leftover));
        using var reader = new ArrowFileReader(File.OpenRead(arrow));
        long rows = 0;
        while (reader.ReadNextRecordBatch() is { } b) rows += b.Length;
        Assert.Equal(OracleFile.Section(capture, "http").Rows.Count(r => r["status"] == "200"), rows);
        Assert.Contains($"{rows} rows", output);
    }

    [Fact]
    public void ExportPcapNeedsASelection()
    {
        using var store = new CliStore();
        var (exit, _, error) = store.Run("export", "pcap", "-o", Path.Combine(store.Dir, "x.pcap"));
        Assert.Equal(1, exit);
        Assert.Contains("--connection", error);
    }

    /// <summary>
    /// 33 overlapping captures (one more than a merge holds open) are merged in passes through spill files: under
    /// --spill-dir when given (created on demand, empty afterwards), else under the store's tmp/, never both.
    /// </summary>
    [Fact]
    public void ExportPcapInPassesSpillsWhereSpillDirSays()
    {
        using var store = new CliStore();
        var capture = SharedData.Pcap("http11-get-simple.pcap");
        Assert.Equal(0, store.Run(["ingest", .. Enumerable.Repeat(capture, 33)]).Exit); // the same times: all overlap
        var spill = Path.Combine(store.Dir, "spill");
        var storeTmp = Path.Combine(store.Dir, "store", "tmp");
        var pcap = Path.Combine(store.Dir, "all.pcap");
        var (exit, output, error) = store.Run("export", "pcap", "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "--spill-dir", spill, "-o", pcap);
        Assert.True(exit == 0, error);
        Assert.Contains($"{33 * 14} frames", output);
        Assert.True(Directory.Exists(spill), "the spill folder is created when the merge needs it");
        Assert.Empty(Directory.GetFileSystemEntries(spill));
        Assert.False(Directory.Exists(storeTmp));

        (exit, _, error) = store.Run("export", "pcap", "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z", "-o", pcap);
        Assert.True(exit == 0, error);
        Assert.True(Directory.Exists(storeTmp));
        Assert.Empty(Directory.GetFileSystemEntries(storeTmp));

        (exit, _, error) = store.Run("export", "pcap", "--from", "-1h", "--spill-dir", spill, "--server", "grpc://127.0.0.1:1", "-o", pcap);
        Assert.Equal(CliApp.ExitUsage, exit);
        Assert.Contains("--spill-dir is for a local store", error);
    }
}
