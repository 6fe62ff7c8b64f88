using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Tests.Oracle;
using TrafficStore.Ingest.Tests.TcpAnalysis;
using Xunit.Abstractions;

namespace TrafficStore.Ingest.Tests.Pipeline;

/// <summary>
/// The acceptance test of the connections table: for every corpus capture, the whole pipeline
/// (reader, decoder, flow table, TCP analysis) against the oracle's tcp section, field by field.
/// </summary>
public class ConnectionsOracleTests
{
    private readonly ITestOutputHelper _output;

    public ConnectionsOracleTests(ITestOutputHelper output) => _output = output;

    public static IReadOnlyList<ConnectionRecord> Ingest(string capture, out IngestResult result)
    {
        var rows = new ListSink<ConnectionRecord>();
        using var source = CaptureFile.Open(SharedData.Pcap(capture));
        result = new IngestPipeline(rows).Run(source);
        return rows.Rows;
    }

    [Theory]
    [MemberData(nameof(SharedData.Captures), MemberType = typeof(SharedData))]
    public void TcpRowsMatchTheOracle(string capture)
    {
        var oracle = OracleFile.Section(capture, "tcp");
        var rows = Ingest(capture, out _);
        var comparison = new OracleComparison();
        comparison.Compare(capture, oracle, rows);
        foreach (var d in comparison.Differences) _output.WriteLine(d);
        Assert.Empty(comparison.Differences);
    }

    [Fact]
    public void TcpRowsAreEmittedInStreamOrder()
    {
        var rows = Ingest("mixed-large-many-protocols.pcap", out _).Where(r => r.Transport == Transport.Tcp).Select(r => r.Stream).ToList();
        Assert.Equal(126, rows.Count);
        Assert.Equal(Enumerable.Range(0, 126).Select(i => (long)i), rows);
    }

    [Fact]
    public void TruncatedCaptureReportsTheErrorAndKeepsTheRowsBeforeIt()
    {
        var rows = Ingest("corrupt-cut-short-pgsql.pcap", out var result);
        Assert.NotNull(result.Error);
        Assert.True(result.Error!.ByteOffset > 0);
        Assert.Equal(OracleFile.Section("corrupt-cut-short-pgsql.pcap", "tcp").Rows.Count, rows.Count(r => r.Transport == Transport.Tcp));
    }
}
