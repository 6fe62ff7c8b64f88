using Apache.Arrow;
using TrafficStore.Ingest.Tables;

namespace TrafficStore.Ingest.Tests.Tables;

public class TableOutputTests
{
    private sealed record Row(long? Id, double? Ratio, string? Name, bool? Ok, long? Ts, long? Dur, byte[]? Blob);

    private static readonly TableDefinition<Row> Table = new("sample", 1, new[]
    {
        Column<Row>.Int64("id", r => r.Id, "id"),
        Column<Row>.Double("ratio", r => r.Ratio, "ratio"),
        Column<Row>.String("name", r => r.Name, "name"),
        Column<Row>.Boolean("ok", r => r.Ok, "ok"),
        Column<Row>.Timestamp("ts", r => r.Ts, "ts"),
        Column<Row>.Duration("dur", r => r.Dur, "dur"),
        Column<Row>.Binary("blob", r => r.Blob is null ? null : r.Blob, "blob"),
    });

    private static readonly Row[] Rows =
    {
        new(1, 0.5, "a,b \"q\"", true, 1362692526_869344001L, 70_034_000L, new byte[] { 0, 255 }),
        new(null, null, null, null, null, null, null),
        new(long.MinValue, double.NaN, "", false, 0, -1_500_000_000L, System.Array.Empty<byte>()),
    };

    [Fact]
    public void EveryColumnKindRoundTripsThroughArrow()
    {
        var batch = new ArrowBatchBuilder<Row>(Table).Build(Rows);
        Assert.Equal(3, batch.Length);
        for (int col = 0; col < Table.Columns.Count; col++)
        {
            for (int row = 0; row < Rows.Length; row++)
            {
                Assert.Equal(Table.Columns[col].FormatText(Rows[row]), ArrowValueFormatter.Format(batch.Column(col), row));
            }
        }
        Assert.Equal(1362692526_869344001L, ArrowValueFormatter.GetValue(batch.Column(4), 0));
        Assert.Equal("trafficstore.table", batch.Schema.Metadata.Keys.First(k => k == "trafficstore.table"));
    }

    [Fact]
    public void CsvUsesOracleConventions()
    {
        var w = new StringWriter();
        TableWriters.WriteCsv(w, Table, Rows);
        var lines = w.ToString().Split('\n');
        Assert.Equal("id,ratio,name,ok,ts,dur,blob", lines[0]);
        Assert.Equal("1,0.5,\"a,b \"\"q\"\"\",1,1362692526.869344001,0.070034000,00ff", lines[1]);
        Assert.Equal(",,,,,,", lines[2]);
        Assert.Equal("-9223372036854775808,NaN,,0,0.000000000,-1.500000000,", lines[3]);
    }

    [Fact]
    public void JsonLinesWriteNullsAndNanoseconds()
    {
        var w = new StringWriter();
        TableWriters.WriteJsonLines(w, Table, Rows);
        var lines = w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Contains("\"ts\":1362692526869344001", lines[0]);
        Assert.Contains("\"name\":null", lines[1]);
        Assert.Contains("\"ratio\":null", lines[2]); // NaN is not JSON
    }

    [Fact]
    public void BatchesSplitAtTheRequestedSize()
    {
        var many = Enumerable.Range(0, 10).Select(i => new Row(i, null, null, null, null, null, null)).ToList();
        var batches = new ArrowBatchBuilder<Row>(Table).BuildBatches(many, 4).ToList();
        Assert.Equal(new[] { 4, 4, 2 }, batches.Select(b => b.Length));
        Assert.Equal(8L, ((Int64Array)batches[2].Column(0)).GetValue(0));
    }
}
