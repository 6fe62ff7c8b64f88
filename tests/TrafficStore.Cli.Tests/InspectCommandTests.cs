using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Cli.Tests;

public class InspectCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = CliApp.Run(args, stdout, stderr, stderrIsTerminal: false);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void CsvStartsWithTheOracleTcpHeaderAndHasTheOracleRows()
    {
        const string capture = "http11-chunked-gzip-multi-conn.pcap";
        var (exit, output, error) = Run("inspect", SharedData.Pcap(capture), "--table", "connections", "--format", "csv");
        Assert.Equal(0, exit);
        Assert.Equal("", error);
        var oracle = OracleFile.Section(capture, "tcp");
        var records = Csv.ReadTable(output);
        Assert.StartsWith(string.Join(',', oracle.Header) + ",", output.Split('\n')[0] + ",");
        Assert.Equal(oracle.Rows.Count, records.Count);
        for (int i = 0; i < records.Count; i++)
            foreach (var column in oracle.Header)
                Assert.Equal(oracle.Rows[i][column], records[i][column]);
    }

    [Fact]
    public void DefaultsAreConnectionsAsATextTableOfTcpOnly()
    {
        var (exit, output, _) = Run("inspect", SharedData.Pcap("sll-mixed-http-dns.pcap"));
        Assert.Equal(0, exit);
        var lines = output.TrimEnd('\n').Split('\n');
        Assert.StartsWith("stream", lines[0]);
        Assert.Equal(1 + OracleFile.Section("sll-mixed-http-dns.pcap", "tcp").Rows.Count, lines.Length);
        Assert.DoesNotContain(" udp ", output);
    }

    [Fact]
    public void TransportAllAddsUdpFlowsAsJsonLines()
    {
        var (exit, output, _) = Run("inspect", SharedData.Pcap("dns-udp-a.pcap"), "--format", "json", "--transport", "all");
        Assert.Equal(0, exit);
        var line = Assert.Single(output.TrimEnd('\n').Split('\n'));
        Assert.Contains("\"transport\":\"udp\"", line);
        Assert.Contains("\"server_port\":53", line);
    }

    [Fact]
    public void CorpusTruncatedCaptureExitsWith2NamingFileAndOffsetAfterPrintingRows()
    {
        string path = SharedData.Pcap("corrupt-cut-short-pgsql.pcap");
        var (exit, output, error) = Run("inspect", path, "--format", "csv");
        Assert.Equal(2, exit);
        Assert.Contains(path, error);
        Assert.Contains("byte offset 3276005", error); // file length 3276006: the last record header has 1 of 16 bytes
        Assert.Equal(OracleFile.Section("corrupt-cut-short-pgsql.pcap", "tcp").Rows.Count, Csv.ReadTable(output).Count);
    }

    [Fact]
    public void CaptureCutInsideAPacketExitsWith2()
    {
        var bytes = File.ReadAllBytes(SharedData.Pcap("http11-get-simple.pcap"));
        string path = Path.Combine(Path.GetTempPath(), $"trafficstore-cut-{Guid.NewGuid():N}.pcap");
        try
        {
            File.WriteAllBytes(path, bytes[..(bytes.Length - 100)]);
            var (exit, output, error) = Run("inspect", path, "--format", "csv");
            Assert.Equal(2, exit);
            Assert.Contains(path, error);
            Assert.Contains("byte offset", error);
            Assert.Single(Csv.ReadTable(output)); // the connection decoded before the break is still listed
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingFileIsAClearErrorNotAnException()
    {
        var (exit, output, error) = Run("inspect", "/nonexistent/capture.pcap");
        Assert.NotEqual(0, exit);
        Assert.Equal("", output);
        Assert.Contains("/nonexistent/capture.pcap", error);
        Assert.Contains("no such file", error);
    }

    [Theory]
    [InlineData("--format", "xml")]
    [InlineData("--transport", "sctp")]
    [InlineData("--table", "nosuchtable")]
    public void UsageErrorsExitWith1(string option, string value)
    {
        var (exit, _, _) = Run("inspect", SharedData.Pcap("dns-udp-a.pcap"), option, value);
        Assert.Equal(1, exit);
    }

    [Fact]
    public void NotACaptureFileExitsWith2()
    {
        var (exit, _, error) = Run("inspect", Path.Combine(SharedData.PcapDir, "SOURCES.md"));
        Assert.Equal(2, exit);
        Assert.Contains("byte offset 0", error);
    }
}
