using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// Planning checks a segment's zone maps as a whole before its row groups: a query without a time window on a
/// value only a few segments hold rules the others out in one check each, with the same rows as the model.
/// </summary>
public class WholeSegmentZoneMapTests
{
    [Fact]
    public async Task SegmentsWithoutTheValueAreRuledOutWhole()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 64 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = QueryTests.Model();
        // Each flush holds one block of connection ids, so the segments' connection_id ranges do not overlap.
        var byConnection = model.OrderBy(r => r.ConnId).ToList();
        int flushes = 0;
        for (int i = 0; i < byConnection.Count; i += 700, flushes++)
        {
            await engine.AppendAsync("conns", QueryTests.ToBatch(byConnection.Skip(i).Take(700).ToList()));
            await engine.FlushAsync();
        }
        long id = byConnection[byConnection.Count / 2].ConnId;

        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", id)), diag);

        Assert.Equal(model.Where(r => r.ConnId == id).Select(r => r.Time).Order(), rows.Select(r => (long)r["time"]!).Order());
        Assert.True(flushes >= 4);
        // Every segment that holds no row of the connection was ruled out before its row groups were looked at.
        var holding = diag.SegmentsConsidered - diag.SegmentsSkippedByZoneMap;
        Assert.True(holding >= 1);
        Assert.Equal(diag.SegmentsSkippedByZoneMap, diag.SegmentsSkippedWhole);

        // A range filter the whole-segment zone maps cannot decide still reads the right rows.
        var wide = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Ge("connection_id", id)).Where(ColumnFilter.Lt("bytes", 500L)));
        Assert.Equal(model.Where(r => r.ConnId >= id && r.Bytes < 500).Select(r => r.Time).Order(), wide.Select(r => (long)r["time"]!).Order());
    }

    [Fact]
    public async Task ASegmentSealedAfterAQueryIsPlannedByTheNext()
    {
        // The planner keeps each snapshot's zone maps in flat arrays (SegmentZones): a new snapshot must get its own.
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 64 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var byConnection = QueryTests.Model().OrderBy(r => r.ConnId).ToList();
        var first = byConnection.Take(700).ToList();
        var later = byConnection.Skip(700).Take(700).ToList();
        await engine.AppendAsync("conns", QueryTests.ToBatch(first));
        await engine.FlushAsync();
        long id = later[350].ConnId;
        var query = new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", id));
        Assert.Empty(await Rows(engine, query));

        await engine.AppendAsync("conns", QueryTests.ToBatch(later));
        await engine.FlushAsync();
        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, query, diag);

        Assert.Equal(later.Where(r => r.ConnId == id).Select(r => r.Time).Order(), rows.Select(r => (long)r["time"]!).Order());
        Assert.True(diag.SegmentsConsidered >= 2);
        Assert.True(diag.SegmentsSkippedWhole >= 1); // the first flush's segment, ruled out on its connection_id range
    }
}
