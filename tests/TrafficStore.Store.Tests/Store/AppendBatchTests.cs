using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Query;
using TrafficStore.Ingest.Tables;
using TrafficStore.Store.Tables;
using static TrafficStore.Store.Tests.Store.StoreTestSupport;

namespace TrafficStore.Store.Tests.Store;

/// <summary>Agent batches (Flight DoPut) are checked against the table schema before they reach the engine.</summary>
public class AppendBatchTests
{
    private static RecordBatch Batch(params (string Name, IArrowType Type, IArrowArray Array)[] columns)
    {
        var schema = new Schema(columns.Select(c => new Field(c.Name, c.Type, nullable: true)), null);
        return new RecordBatch(schema, columns.Select(c => c.Array), columns[0].Array.Length);
    }

    private static IArrowArray Ts(long v) => new TimestampArray.Builder(ArrowSchemas.TimestampNs).Append(DateTimeOffset.UnixEpoch.AddTicks(v / 100)).Build();

    [Fact]
    public async Task ValidBatchIsStoredAndBadOnesAreRejectedWithTheReason()
    {
        using var dir = new TempDir();
        await using var db = OpenDatabase(dir.Path);
        var ok = Batch(("ts", ArrowSchemas.TimestampNs, Ts(1_700_000_000_000_000_000)), ("qname", StringType.Default, new StringArray.Builder().Append("example.org").Build()));
        await db.AppendBatchAsync(TrafficTables.Dns, ok);
        var rows = await Rows(db, new QuerySpec(TrafficTables.Dns).Select("qname", "rcode"));
        Assert.Equal("example.org", Assert.Single(rows)["qname"]);
        Assert.Equal("", rows[0]["rcode"]); // columns the batch leaves out are null

        var e = await Assert.ThrowsAsync<ArgumentException>(async () => await db.AppendBatchAsync("nosuch", ok));
        Assert.Contains("unknown table 'nosuch'", e.Message);
        e = await Assert.ThrowsAsync<ArgumentException>(async () => await db.AppendBatchAsync(TrafficTables.Dns,
            Batch(("ts", ArrowSchemas.TimestampNs, Ts(1)), ("bogus", Int64Type.Default, new Int64Array.Builder().Append(1).Build()))));
        Assert.Contains("no column 'bogus'", e.Message);
        e = await Assert.ThrowsAsync<ArgumentException>(async () => await db.AppendBatchAsync(TrafficTables.Dns,
            Batch(("ts", ArrowSchemas.TimestampNs, Ts(1)), ("qname", Int64Type.Default, new Int64Array.Builder().Append(1).Build()))));
        Assert.Contains("column 'qname' of table 'dns' is utf8", e.Message);
        e = await Assert.ThrowsAsync<ArgumentException>(async () => await db.AppendBatchAsync(TrafficTables.Dns,
            Batch(("qname", StringType.Default, new StringArray.Builder().Append("x").Build()))));
        Assert.Contains("lacks the time column 'ts'", e.Message);
    }
}
