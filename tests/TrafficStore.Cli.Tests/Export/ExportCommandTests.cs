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
        (exit, output, error) = store.Run("export", "arrow", "--table", "http", "--where", "status=200", "-o", arrow);
        Assert.True(exit == 0, error);
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
}
