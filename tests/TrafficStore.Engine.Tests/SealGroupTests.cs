using TrafficStore.Engine.Query;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// A flush seals a backlog in groups of <see cref="StoreOptions.MaxSealGroupBytes"/>: the rows are
/// all there, in order, as several segments per partition, and survive reopening. (With one group
/// per flush, a backlog of more than 2 GiB of bytes in a column overflowed and every flush failed.)
/// </summary>
public class SealGroupTests
{
    [Fact]
    public async Task BacklogLargerThanTheGroupBoundIsSealedAsSeveralSegmentsPerPartition()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        var shuffled = model.OrderBy(r => (r.ConnId * 7919) % 3001).ToList();
        var options = Options(dir.Path) with { RowGroupRows = 128, MaxSealGroupBytes = 16 << 10 };
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            for (int i = 0; i < 10; i++)
                await engine.AppendAsync("conns", QueryTests.ToBatch(shuffled.Skip(i * 300).Take(300).ToList()));
            await engine.FlushAsync();
            var stats = engine.GetStats().Tables["conns"];
            Assert.Equal(model.Count, stats.SealedRows);
            Assert.True(stats.Segments > stats.Partitions, $"{stats.Segments} segments in {stats.Partitions} partitions");
            await AssertAllRowsInOrder(engine, model);
        }
        await using (var reopened = TrafficStoreEngine.Open(options))
        {
            reopened.RegisterTable(QueryTests.ConnSpec);
            await AssertAllRowsInOrder(reopened, model);
            var diag = new QueryDiagnostics();
            var pod = await Rows(reopened, new QuerySpec("conns").Where(ColumnFilter.Eq("pod", "pod-3")), diag);
            Assert.True(diag.UsedIndex);
            Assert.Equal(model.Count(r => r.Pod == "pod-3"), pod.Count);
        }
    }

    [Fact]
    public void GroupsKeepBlocksWholeAndInOrder()
    {
        var schema = Catalog.TableSchema.FromArrow(1, QueryTests.ConnSchema);
        var blocks = Enumerable.Range(0, 7).Select(i => Columns.RowBlock.FromBatch(schema, QueryTests.ToBatch(QueryTests.Model(10 * (i + 1))))).ToList();
        long bound = blocks[0].RawBytes * 3;
        var groups = SegmentSealer.Groups(blocks, bound).ToList();
        Assert.Equal(blocks, groups.SelectMany(g => g));
        Assert.All(groups, g => Assert.True(g.Count == 1 || g.Sum(b => b.RawBytes) <= bound));
        Assert.True(groups.Count > 1);
    }

    private static async Task AssertAllRowsInOrder(TrafficStoreEngine engine, List<QueryTests.Row> model)
    {
        var rows = await Rows(engine, new QuerySpec("conns") { OrderByTime = true });
        Assert.Equal(model.Select(r => r.Time).Order(), rows.Select(r => (long)r["time"]!));
        Assert.Equal(model.Select(r => r.ConnId).Order(), rows.Select(r => (long)r["connection_id"]!).Order());
    }
}
