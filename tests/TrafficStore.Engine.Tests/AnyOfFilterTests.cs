using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>OR groups (<see cref="ColumnFilter.AnyOf"/>) checked against the LINQ model of <see cref="QueryTests"/>, sealed and unsealed rows.</summary>
public class AnyOfFilterTests
{
    [Fact]
    public async Task AnyOfMatchesRowsWhereSomeAlternativeHolds()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 128 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = QueryTests.Model();
        await engine.AppendAsync("conns", QueryTests.ToBatch(model.Take(2000).ToList()));
        await engine.FlushAsync();
        await engine.AppendAsync("conns", QueryTests.ToBatch(model.Skip(2000).ToList()));

        var group = ColumnFilter.AnyOf(ColumnFilter.Eq("pod", "pod-3"), ColumnFilter.Ge("connection_id", 900L));
        var rows = await Rows(engine, new QuerySpec("conns").Where(group, ColumnFilter.Eq("namespace", "ns3")));
        var expected = model.Where(r => (r.Pod == "pod-3" || r.ConnId >= 900) && r.Ns == "ns3").Select(r => r.Time).Order().ToList();
        Assert.NotEmpty(expected);
        Assert.Equal(expected, rows.Select(r => (long)r["time"]!).Order().ToList());
    }

    [Fact]
    public async Task AnyOfSkipsRowGroupsWhereNoAlternativeCanMatch()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 128 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = QueryTests.Model();
        await engine.AppendAsync("conns", QueryTests.ToBatch(model));
        await engine.FlushAsync();

        // connection_id = i / 3 grows with time: only the row groups around ids 10 and 950 can match.
        var diag = new QueryDiagnostics();
        var group = ColumnFilter.AnyOf(ColumnFilter.Eq("connection_id", 10L), ColumnFilter.Eq("connection_id", 950L));
        var rows = await Rows(engine, new QuerySpec("conns").Where(group), diag);
        Assert.Equal(6, rows.Count);
        Assert.True(diag.RowGroupsRead <= 4, $"read {diag.RowGroupsRead} row groups");
    }

    [Fact]
    public async Task AnyOfOnIndexedColumnsUsesTheIndexAndReadsOnlyTheRowGroupsItNames()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 64 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = QueryTests.Model();
        await engine.AppendAsync("conns", QueryTests.ToBatch(model));
        await engine.FlushAsync();

        // Either of two indexed columns (as "pod = X" over client_pod/server_pod): pod-3 appears in every row
        // group (i % 10), connection 950 in one; the union of the postings must give exactly the model's rows.
        var diag = new QueryDiagnostics();
        var group = ColumnFilter.AnyOf(ColumnFilter.Eq("connection_id", 950L), ColumnFilter.Eq("namespace", "ns-none"));
        var rows = await Rows(engine, new QuerySpec("conns").Where(group), diag);
        Assert.Equal(model.Where(r => r.ConnId == 950).Select(r => r.Time).Order(), rows.Select(r => (long)r["time"]!).Order());
        Assert.True(diag.UsedIndex);
        Assert.True(diag.RowGroupsRead <= 2, $"read {diag.RowGroupsRead} row groups");

        var wide = ColumnFilter.AnyOf(ColumnFilter.Eq("pod", "pod-3"), ColumnFilter.In("connection_id", 5L, 950L));
        var both = await Rows(engine, new QuerySpec("conns").Where(wide));
        Assert.Equal(model.Where(r => r.Pod == "pod-3" || r.ConnId is 5 or 950).Select(r => r.Time).Order(), both.Select(r => (long)r["time"]!).Order());
    }

    [Fact]
    public void AnyOfNeedsAlternatives()
    {
        Assert.Throws<ArgumentException>(() => ColumnFilter.AnyOf());
    }
}
