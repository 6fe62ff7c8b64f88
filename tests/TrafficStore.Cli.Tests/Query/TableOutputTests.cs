using TrafficStore.Cli.Tests.Ingest;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Cli.Tests.Query;

/// <summary>The aligned text table keeps one row per line, even for multi-line values (header blocks).</summary>
public class TableOutputTests
{
    [Fact]
    public void HeaderBlocksStayOnTheirRowsLine()
    {
        using var store = new CliStore();
        Assert.Equal(0, store.Run("ingest", SharedData.Pcap("http11-chunked-gzip-multi-conn.pcap")).Exit);
        var (exit, csv, error) = store.Run("query", "payloads select kind, headers", "--format", "csv");
        Assert.True(exit == 0, error);
        int rows = TrafficStore.Ingest.Tests.Oracle.Csv.ReadTable(csv).Count;
        Assert.True(rows > 0);

        (exit, var table, error) = store.Run("query", "payloads select kind, headers");
        Assert.True(exit == 0, error);
        var lines = table.TrimEnd('\n').Split('\n');
        Assert.Equal(rows + 1, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Matches(@"^(request|response)\s+\S.*\\n", l));
    }
}
