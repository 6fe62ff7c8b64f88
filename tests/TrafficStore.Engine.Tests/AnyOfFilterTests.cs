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
    public void AnyOfNeedsAlternatives()
    {
        Assert.Throws<ArgumentException>(() => ColumnFilter.AnyOf());
    }
}
