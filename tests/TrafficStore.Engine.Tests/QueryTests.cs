using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>Queries checked against a plain LINQ model of the same rows.</summary>
public class QueryTests
{
    public sealed record Row(long Time, long? End, string Ns, string Pod, long ConnId, long Bytes, double Rtt, bool Ok, string Path);

    internal static readonly Schema ConnSchema = Schema(
        ("time", Ts), ("end_time", Ts), ("namespace", StringType.Default), ("pod", StringType.Default),
        ("connection_id", Int64Type.Default), ("bytes", Int64Type.Default), ("rtt", DoubleType.Default),
        ("ok", BooleanType.Default), ("path", StringType.Default));

    internal static TableSpec ConnSpec => new("conns", ConnSchema, "time")
    {
        EndTimeColumn = "end_time",
        IndexedColumns = ["namespace", "pod", "connection_id"],
        NamespaceColumn = "namespace",
    };

    /// <summary>3000 rows over 6 one-minute partitions, 120 ms apart.</summary>
    internal static List<Row> Model(int count = 3000, long step = 120_000_000) => Enumerable.Range(0, count).Select(i => new Row(
        Base + i * step,
        i % 7 == 0 ? null : Base + i * step + (i % 5) * 30 * Second,
        $"ns{i % 4}", $"pod-{i % 10}", i / 3, i * 10L, i * 0.5, i % 3 == 0, $"/api/v{i % 3}/items/{i}")).ToList();

    internal static RecordBatch ToBatch(IReadOnlyList<Row> rows) => Batch(ConnSchema,
        Timestamps(rows.Select(r => (long?)r.Time).ToArray()),
        Timestamps(rows.Select(r => r.End).ToArray()),
        Strings(rows.Select(r => r.Ns).ToArray()),
        Strings(rows.Select(r => r.Pod).ToArray()),
        Int64(rows.Select(r => (long?)r.ConnId).ToArray()),
        Int64(rows.Select(r => (long?)r.Bytes).ToArray()),
        Doubles(rows.Select(r => (double?)r.Rtt).ToArray()),
        Bools(rows.Select(r => (bool?)r.Ok).ToArray()),
        Strings(rows.Select(r => r.Path).ToArray()));

    /// <summary>
    /// A random time window (half the time) and as-of instant (a quarter) over <see cref="Model"/>'s six
    /// minutes, applied to a query and to the rows it should return (random query tests share it).
    /// </summary>
    internal static (QuerySpec Spec, IEnumerable<Row> Expected) RandomWindow(Random rng, QuerySpec spec, IEnumerable<Row> expected)
    {
        if (rng.Next(2) == 0)
        {
            long from = Base + rng.NextInt64(-30, 360) * Second, to = from + rng.NextInt64(1, 200) * Second;
            spec = spec with { From = from, To = to };
            expected = expected.Where(r => r.Time >= from && r.Time < to);
        }
        if (rng.Next(4) == 0)
        {
            long asOf = Base + rng.NextInt64(0, 370) * Second;
            spec = spec with { AsOf = asOf };
            expected = expected.Where(r => r.Time <= asOf && (r.End is null || r.End >= asOf));
        }
        return (spec, expected);
    }

    /// <summary>The first 2500 rows sealed (in two flushes, so partitions hold two segments), the rest unsealed.</summary>
    private static async Task<(TrafficStoreEngine Engine, List<Row> Model)> OpenStore(TempDir dir)
    {
        var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 128 });
        engine.RegisterTable(ConnSpec);
        var model = Model();
        // Shuffle so sealing has to sort, and split appends so several batches land in each partition.
        var shuffled = model.OrderBy(r => (r.ConnId * 7919) % 3001).ToList();
        var sealedRows = shuffled.Where(r => r.Time < Base + 2500 * 120_000_000L).ToList();
        var half = sealedRows.Count / 2;
        await engine.AppendAsync("conns", ToBatch(sealedRows.Take(half).ToList()));
        await engine.FlushAsync();
        await engine.AppendAsync("conns", ToBatch(sealedRows.Skip(half).ToList()));
        await engine.FlushAsync();
        await engine.AppendAsync("conns", ToBatch(shuffled.Where(r => r.Time >= Base + 2500 * 120_000_000L).ToList()));
        return (engine, model);
    }

    private static List<long> Times(List<Dictionary<string, object?>> rows) => rows.Select(r => (long)r["time"]!).Order().ToList();
    private static List<long> Times(IEnumerable<Row> rows) => rows.Select(r => r.Time).Order().ToList();

    [Fact]
    public async Task TimeRangeAcrossPartitionsIncludesUnsealedRows()
    {
        using var dir = new TempDir();
        var (engine, model) = await OpenStore(dir);
        await using var _ = engine;
        long from = Base + 90 * Second, to = Base + 310 * Second + 7; // from mid-partition 1 to partition 5 (unsealed tail)
        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns") { From = from, To = to }, diag);
        Assert.Equal(Times(model.Where(r => r.Time >= from && r.Time < to)), Times(rows));
        Assert.True(diag.UnsealedRowsScanned > 0);
        Assert.True(diag.SegmentsSkippedByZoneMap >= 2, "partition 0 segments are outside the range");
        Assert.Equal(model.Count, (await Rows(engine, new QuerySpec("conns"))).Count);
    }

    [Fact]
    public async Task AsOfSelectsIntervalsContainingTheInstant()
    {
        using var dir = new TempDir();
        var (engine, model) = await OpenStore(dir);
        await using var _ = engine;
        foreach (long asOf in new[] { Base + 100 * Second + 60_000_000, Base + 299 * Second, Base - 1 })
        {
            var rows = await Rows(engine, new QuerySpec("conns") { AsOf = asOf });
            Assert.Equal(Times(model.Where(r => r.Time <= asOf && (r.End is null || r.End >= asOf))), Times(rows));
        }
    }

    private static readonly Dictionary<string, (ColumnFilter Filter, Func<Row, bool> Expected)> Filters = new()
    {
        ["pod = pod-3"] = (ColumnFilter.Eq("pod", "pod-3"), r => r.Pod == "pod-3"),
        ["namespace != ns1"] = (ColumnFilter.NotEq("namespace", "ns1"), r => r.Ns != "ns1"),
        ["bytes < 12345"] = (ColumnFilter.Lt("bytes", 12345L), r => r.Bytes < 12345),
        ["rtt <= 700.5"] = (ColumnFilter.Le("rtt", 700.5), r => r.Rtt <= 700.5),
        ["time > base+200s"] = (ColumnFilter.Gt("time", QuerySpec.FromNs(Base + 200 * Second)), r => r.Time > Base + 200 * Second),
        ["connection_id >= 990"] = (ColumnFilter.Ge("connection_id", 990), r => r.ConnId >= 990),
        ["path prefix /api/v2/items/1"] = (ColumnFilter.Prefix("path", "/api/v2/items/1"), r => r.Path.StartsWith("/api/v2/items/1", StringComparison.Ordinal)),
        ["namespace in ns0,ns3"] = (ColumnFilter.In("namespace", "ns0", "ns3"), r => r.Ns is "ns0" or "ns3"),
        ["ok = true"] = (ColumnFilter.Eq("ok", true), r => r.Ok),
        ["connection_id in 5,700,999"] = (ColumnFilter.In("connection_id", 5L, 700L, 999L), r => r.ConnId is 5 or 700 or 999),
        ["end_time < base+60s"] = (ColumnFilter.Lt("end_time", Base + 60 * Second), r => r.End < Base + 60 * Second),
    };

    public static TheoryData<string> FilterCases() => new(Filters.Keys);

    [Theory]
    [MemberData(nameof(FilterCases))]
    public async Task EachFilterOperatorMatchesTheModel(string name)
    {
        var (filter, expected) = Filters[name];
        using var dir = new TempDir();
        var (engine, model) = await OpenStore(dir);
        await using var _ = engine;
        var rows = await Rows(engine, new QuerySpec("conns").Where(filter));
        Assert.Equal(Times(model.Where(expected)), Times(rows));
        // The same through the ordered path.
        var ordered = await Rows(engine, new QuerySpec("conns") { OrderByTime = true }.Where(filter));
        Assert.Equal(Times(model.Where(expected)), ordered.Select(r => (long)r["time"]!).ToList());
    }

    [Fact]
    public async Task ProjectionLimitAndOrder()
    {
        using var dir = new TempDir();
        var (engine, model) = await OpenStore(dir);
        await using var _ = engine;
        var q = new QuerySpec("conns") { OrderByTime = true, Limit = 1234 }.Select("pod", "time");
        var batches = new List<RecordBatch>();
        await foreach (var b in engine.QueryAsync(q)) batches.Add(b);
        Assert.All(batches, b => Assert.Equal(["pod", "time"], b.Schema.FieldsList.Select(f => f.Name)));
        var rows = await Rows(engine, q);
        Assert.Equal(1234, rows.Count);
        Assert.Equal(model.OrderBy(r => r.Time).Take(1234).Select(r => (object?)r.Pod), rows.Select(r => r["pod"]));
        Assert.Equal(7, (await Rows(engine, new QuerySpec("conns") { Limit = 7 })).Count);

        // Newest first: the ascending order reversed, and a limit takes the newest rows.
        var ascending = (await Rows(engine, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!).ToList();
        var descending = (await Rows(engine, new QuerySpec("conns") { OrderByTime = true, Descending = true })).Select(r => (long)r["time"]!).ToList();
        Assert.Equal(Enumerable.Reverse(ascending), descending);
        var newest = await Rows(engine, new QuerySpec("conns") { OrderByTime = true, Descending = true, Limit = 25 });
        Assert.Equal(model.Select(r => r.Time).OrderDescending().Take(25), newest.Select(r => (long)r["time"]!));
        Assert.Throws<ArgumentException>(() => engine.QuerySchema(new QuerySpec("conns").Select("nope")));
    }

    [Fact]
    public async Task IndexedFilterReadsOnlyMatchingSegmentsAndRowGroups()
    {
        using var dir = new TempDir();
        var (engine, model) = await OpenStore(dir);
        await using var _ = engine;
        int segments = engine.GetStats().Tables["conns"].Segments;
        Assert.Equal(10, segments); // 5 sealed partitions x 2 flushes

        var indexed = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", 420L)), indexed);
        Assert.Equal(Times(model.Where(r => r.ConnId == 420)), Times(rows));
        Assert.True(indexed.UsedIndex);
        // Rows 1260..1262 live in partition 2 only; each of its two segments holds some of them (or the index skips it).
        Assert.InRange(indexed.SegmentsRead, 1, 2);
        Assert.Equal(segments - indexed.SegmentsRead, indexed.SegmentsSkippedByIndex + indexed.SegmentsSkippedByZoneMap);
        Assert.InRange(indexed.RowGroupsRead, 1, 4);

        var scan = new QueryDiagnostics();
        var same = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Ge("connection_id", 420L), ColumnFilter.Le("connection_id", 420L)), scan);
        Assert.Equal(Times(rows), Times(same));
        Assert.False(scan.UsedIndex);
        Assert.True(scan.RowGroupsRead >= indexed.RowGroupsRead);

        var stats = engine.GetStats();
        Assert.True(stats.SegmentsRead >= indexed.SegmentsRead + scan.SegmentsRead);
        Assert.True(stats.IndexEntries > 0);
    }

    [Fact]
    public async Task EstimateGroupsCoverTheQueryExactly()
    {
        using var dir = new TempDir();
        var (engine, model) = await OpenStore(dir);
        await using var _ = engine;
        var q = new QuerySpec("conns") { From = Base + 30 * Second, To = Base + 330 * Second }.Where(ColumnFilter.Eq("namespace", "ns2"));
        var estimate = await engine.EstimateAsync(q);
        var all = await Rows(engine, q);
        Assert.Equal(6, estimate.Groups.Count);
        Assert.True(estimate.EstimatedRows >= all.Count);
        Assert.Contains(estimate.Groups, g => g.IncludesUnsealedRows);
        var union = new List<long>();
        foreach (var group in estimate.Groups) union.AddRange(Times(await Rows(engine, group.Narrow(q))));
        Assert.Equal(Times(all), union.Order().ToList());
        Assert.Equal(Times(model.Where(r => r.Ns == "ns2" && r.Time >= Base + 30 * Second && r.Time < Base + 330 * Second)), Times(all));
    }

    [Fact]
    public async Task RejectsBatchesThatDoNotFitTheTable()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        engine.RegisterTable(ConnSpec);
        var wrongType = Schema(("time", Ts), ("bytes", StringType.Default));
        await Assert.ThrowsAsync<ArgumentException>(async () => await engine.AppendAsync("conns", Batch(wrongType, Timestamps(Base), Strings("x"))));
        var nullTime = Schema(("time", Ts));
        await Assert.ThrowsAsync<ArgumentException>(async () => await engine.AppendAsync("conns", Batch(nullTime, Timestamps((long?)null))));
        await Assert.ThrowsAsync<KeyNotFoundException>(async () => await engine.AppendAsync("missing", Batch(nullTime, Timestamps(Base))));
        // A batch may leave out nullable columns.
        await engine.AppendAsync("conns", Batch(nullTime, Timestamps(Base)));
        var rows = await Rows(engine, new QuerySpec("conns"));
        Assert.Null(Assert.Single(rows)["pod"]);
    }
}

public class IndexSpillTests
{
    [Fact]
    public async Task IndexLargerThanItsMemoryAnswersFromTheFasterLogFile()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(20000, 6_000_000); // 2 minutes, ~6700 connection ids, 20000 pods/paths
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 256, IndexMemoryBytes = 1 << 18 }))
        {
            engine.RegisterTable(QueryTests.ConnSpec with { IndexedColumns = ["connection_id", "path"] });
            await engine.AppendAsync("conns", QueryTests.ToBatch(model));
            await engine.FlushAsync();
        }
        // Reopen: the index is rebuilt from footers into a 256 KiB FASTER log, so most postings live on disk.
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path) with { IndexMemoryBytes = 1 << 18 });
        Assert.NotEmpty(Directory.GetFiles(Path.Combine(dir.Path, "index"))); // FASTER's log segments (postings.log.N)
        var rng = new Random(5);
        for (int i = 0; i < 40; i++)
        {
            long id = rng.Next(0, 6700);
            var diag = new QueryDiagnostics();
            var rows = await Rows(reopened, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", id)), diag);
            Assert.Equal(model.Where(r => r.ConnId == id).Select(r => r.Time).Order(), rows.Select(r => (long)r["time"]!).Order());
            Assert.True(diag.UsedIndex);
            Assert.InRange(diag.RowGroupsRead, 1, 2);
        }
        var path = "/api/v1/items/9997";
        Assert.Single(await Rows(reopened, new QuerySpec("conns").Where(ColumnFilter.Eq("path", path))));
        // One posting per (segment = partition here, column, distinct value).
        long expected = model.GroupBy(r => (r.Time - Base) / Minute).Sum(g => g.Select(r => r.ConnId).Distinct().Count() + g.Select(r => r.Path).Distinct().Count());
        Assert.Equal(expected, reopened.GetStats().IndexEntries);
    }
}
