using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;
using Row = TrafficStore.Engine.Tests.QueryTests.Row;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// Time-ordered queries stream: within a partition, segments' row groups are merged by time one row group at a
/// time. Results are checked against a model (every stored row, sorted by time) on random stores whose segments
/// overlap, with packed segments and unsealed rows; the documented tie rule (segment order — oldest minimum time,
/// then segment id — then row order, unsealed rows last; descending the exact reverse) on stores built to tie;
/// and the memory bound and early stop through <see cref="QueryDiagnostics"/>.
/// </summary>
public class OrderedStreamTests
{
    /// <summary>A row whose <c>bytes</c> column is its unique id; the path length varies (batch byte bounds).</summary>
    private static Row Make(long time, long id, Random rng) =>
        new(time, null, $"ns{id % 3}", $"pod-{id % 5}", id / 4, id, id * 0.25, id % 2 == 0, new string('p', rng.Next(0, 60)) + id);

    private static async Task Append(TrafficStoreEngine engine, IReadOnlyList<Row> rows, bool flush)
    {
        if (rows.Count == 0) return;
        await engine.AppendAsync("conns", QueryTests.ToBatch(rows));
        if (flush) await engine.FlushAsync();
    }

    private static async Task BulkLoad(TrafficStoreEngine engine, IReadOnlyList<Row> rows)
    {
        await using var bulk = engine.BeginBulkLoad(new BulkLoadOptions { SealBytes = long.MaxValue, MaxBufferedBytes = long.MaxValue });
        for (int i = 0; i < rows.Count; i += 100)
            await bulk.AddAsync("conns", QueryTests.ToBatch(rows.Skip(i).Take(100).ToList()));
        await bulk.CompleteAsync();
    }

    private static async Task<List<(long Time, long Id)>> Ordered(TrafficStoreEngine engine, QuerySpec q, QueryDiagnostics? diag = null) =>
        (await Rows(engine, q with { OrderByTime = true, Columns = ["time", "bytes", "path"] }, diag))
        .Select(r => ((long)r["time"]!, (long)r["bytes"]!)).ToList();

    /// <summary>
    /// Random stores: a bulk load (sparse partitions packed into one segment), then flushes whose rows overlap in
    /// time within partitions, then unsealed rows; times on a coarse grid so that ties are common.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task OrderedResultsMatchTheModelOnRandomStores(int seed)
    {
        var rng = new Random(seed);
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = rng.Next(5, 40) });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = new List<Row>();
        long id = 0;
        int partitions = rng.Next(1, 5);
        List<Row> Gen(int n) => Enumerable.Range(0, n).Select(_ =>
            Make(Base + rng.Next(partitions) * Minute + rng.Next(0, 300) * 200_000_000L, id++, rng)).ToList();

        if (rng.Next(2) == 0)
        {
            // Bulk rows arrive in time order (a capture), so they are cut straight into row groups.
            var bulk = Gen(rng.Next(50, 400)).OrderBy(r => r.Time).ToList();
            await BulkLoad(engine, bulk);
            model.AddRange(bulk);
        }
        int flushes = rng.Next(1, 5);
        for (int f = 0; f < flushes; f++)
        {
            var rows = Gen(rng.Next(20, 300));
            await Append(engine, rows, flush: true);
            model.AddRange(rows);
        }
        for (int u = rng.Next(0, 3); u > 0; u--)
        {
            var rows = Gen(rng.Next(1, 60));
            await Append(engine, rows, flush: false);
            model.AddRange(rows);
        }

        var byId = model.ToDictionary(r => r.Bytes);
        var all = await Ordered(engine, new QuerySpec("conns"));
        var desc = await Ordered(engine, new QuerySpec("conns") { Descending = true });
        AssertSameOrderedRows(model.OrderBy(r => r.Time), all);
        // Ties are deterministic and descending is the exact reverse.
        Assert.Equal(all.AsEnumerable().Reverse(), desc);

        for (int k = 0; k < 12; k++)
        {
            long from = Base + rng.Next(-1, partitions) * Minute + rng.Next(0, 300) * 200_000_000L;
            long to = from + rng.Next(1, 2 * partitions) * 20 * Second;
            bool descending = rng.Next(2) == 0;
            string? pod = rng.Next(3) == 0 ? $"pod-{rng.Next(5)}" : null;
            long? limit = rng.Next(2) == 0 ? rng.Next(0, 200) : null;
            var q = new QuerySpec("conns")
            {
                From = from, To = to, Descending = descending, Limit = limit,
                MaxBatchRows = rng.Next(1, 50), MaxBatchBytes = rng.Next(1, 4000),
            };
            if (pod is not null) q = q.Where(ColumnFilter.Eq("pod", pod));
            var expected = (descending ? desc : all).Where(r =>
            {
                var row = byId[r.Id];
                return row.Time >= from && row.Time < to && (pod is null || row.Pod == pod);
            });
            if (limit is long n) expected = expected.Take((int)n);
            var diag = new QueryDiagnostics();
            var got = await Ordered(engine, q, diag);
            Assert.Equal(expected, got);
            Assert.Equal(got.Count, diag.RowsReturned);
        }
    }

    /// <summary>The same rows as the model sorted by time: equal time sequence, and per time the same ids.</summary>
    private static void AssertSameOrderedRows(IEnumerable<Row> sortedModel, List<(long Time, long Id)> got)
    {
        var expected = sortedModel.ToList();
        Assert.Equal(expected.Select(r => r.Time), got.Select(r => r.Time));
        foreach (var tie in got.GroupBy(r => r.Time))
            Assert.Equal(expected.Where(r => r.Time == tie.Key).Select(r => r.Bytes).Order(), tie.Select(r => r.Id).Order());
    }

    [Fact]
    public async Task TiesComeInSegmentOrderThenRowOrderWithUnsealedRowsLastAndDescendingIsTheReverse()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 4 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var rng = new Random(7);
        // Three rows per instant in each source, ten instants: flush A (older segment id), flush B, unsealed C.
        List<Row> Source(long firstId) => Enumerable.Range(0, 30).Select(i => Make(Base + i / 3 * Second, firstId + i, rng)).ToList();
        var a = Source(0);
        var b = Source(100);
        var c = Source(200);
        await Append(engine, a, flush: true);
        await Append(engine, b, flush: true);
        await Append(engine, c, flush: false);

        // Per instant: A's three rows in arrival order, then B's, then C's.
        var expected = Enumerable.Range(0, 10).SelectMany(t => new[] { a, b, c }.SelectMany(s => s.Skip(3 * t).Take(3)))
            .Select(r => (r.Time, r.Bytes)).ToList();
        var diag = new QueryDiagnostics();
        Assert.Equal(expected, await Ordered(engine, new QuerySpec("conns") { MaxBatchRows = 7 }, diag));
        Assert.Equal(2, diag.SegmentsRead);
        Assert.Equal(expected.AsEnumerable().Reverse(), await Ordered(engine, new QuerySpec("conns") { Descending = true, MaxBatchRows = 7 }));
        // Limits cut the same sequence.
        Assert.Equal(expected.Take(11), await Ordered(engine, new QuerySpec("conns") { Limit = 11 }));
        Assert.Equal(expected.AsEnumerable().Reverse().Take(11), await Ordered(engine, new QuerySpec("conns") { Descending = true, Limit = 11 }));
    }

    /// <summary>
    /// Three segments interleaved over one partition, 25 row groups each, plus unsealed rows: the whole partition is
    /// read, yet no more decoded row groups are held at once than there are segments in it.
    /// </summary>
    [Fact]
    public async Task OverlappingSegmentsHoldAtMostOneRowGroupEach()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 10 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var rng = new Random(11);
        var model = new List<Row>();
        for (int s = 0; s < 3; s++)
        {
            // Source s holds every third 100 ms step of the same minute: each row group overlaps the other segments'.
            var rows = Enumerable.Range(0, 250).Select(i => Make(Base + (3L * i + s) * 50_000_000L, s * 1000 + i, rng)).ToList();
            await Append(engine, rows, flush: true);
            model.AddRange(rows);
        }
        var unsealed = Enumerable.Range(0, 40).Select(i => Make(Base + rng.Next(0, 750) * 50_000_000L, 5000 + i, rng)).ToList();
        await Append(engine, unsealed, flush: false);
        model.AddRange(unsealed);

        foreach (bool descending in new[] { false, true })
        {
            var diag = new QueryDiagnostics();
            var got = await Ordered(engine, new QuerySpec("conns") { Descending = descending }, diag);
            var sorted = model.OrderBy(r => r.Time).ToList();
            if (descending) sorted.Reverse();
            Assert.Equal(sorted.Select(r => r.Time), got.Select(r => r.Time));
            Assert.Equal(75, diag.RowGroupsRead);
            Assert.Equal(3, diag.SegmentsRead);
            Assert.InRange(diag.MaxRowGroupsHeld, 1, 3);
        }
    }

    /// <summary>One segment of 40 row groups in one partition: read one row group at a time.</summary>
    [Fact]
    public async Task ASegmentThatOverlapsNothingIsReadOneRowGroupAtATime()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 10 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var rng = new Random(3);
        var rows = Enumerable.Range(0, 400).Select(i => Make(Base + i * 100_000_000L, i, rng)).ToList();
        await Append(engine, rows, flush: true);

        var diag = new QueryDiagnostics();
        var got = await Ordered(engine, new QuerySpec("conns"), diag);
        Assert.Equal(rows.Select(r => (r.Time, r.Bytes)), got);
        Assert.Equal(40, diag.RowGroupsRead);
        Assert.Equal(1, diag.MaxRowGroupsHeld);
    }

    /// <summary>A limit decodes only the row groups that hold the rows it returns, from either end.</summary>
    [Fact]
    public async Task ALimitReadsOnlyTheRowGroupsItNeeds()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 10 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var rng = new Random(5);
        var first = Enumerable.Range(0, 200).Select(i => Make(Base + 2L * i * 100_000_000L, i, rng)).ToList();
        await Append(engine, first, flush: true);

        var diag = new QueryDiagnostics();
        Assert.Equal(first.Take(25).Select(r => (r.Time, r.Bytes)), await Ordered(engine, new QuerySpec("conns") { Limit = 25 }, diag));
        Assert.Equal(3, diag.RowGroupsRead);
        diag = new QueryDiagnostics();
        Assert.Equal(first.AsEnumerable().Reverse().Take(25).Select(r => (r.Time, r.Bytes)),
            await Ordered(engine, new QuerySpec("conns") { Limit = 25, Descending = true }, diag));
        Assert.Equal(3, diag.RowGroupsRead);

        // A second segment interleaved with the first (odd 100 ms steps): a merge, still reading only the heads.
        var second = Enumerable.Range(0, 200).Select(i => Make(Base + (2L * i + 1) * 100_000_000L, 1000 + i, rng)).ToList();
        await Append(engine, second, flush: true);
        var both = first.Concat(second).OrderBy(r => r.Time).ToList();
        diag = new QueryDiagnostics();
        Assert.Equal(both.Take(15).Select(r => (r.Time, r.Bytes)), await Ordered(engine, new QuerySpec("conns") { Limit = 15 }, diag));
        Assert.Equal(2, diag.RowGroupsRead); // 8 rows from each segment's first row group
        diag = new QueryDiagnostics();
        Assert.Equal(both.AsEnumerable().Reverse().Take(15).Select(r => (r.Time, r.Bytes)),
            await Ordered(engine, new QuerySpec("conns") { Limit = 15, Descending = true }, diag));
        Assert.Equal(2, diag.RowGroupsRead);

        // Starting in a later partition: zone maps put its segments' first row groups first.
        var later = Enumerable.Range(0, 100).Select(i => Make(Base + Minute + i * 100_000_000L, 2000 + i, rng)).ToList();
        await Append(engine, later, flush: true);
        diag = new QueryDiagnostics();
        Assert.Equal(later.Take(5).Select(r => (r.Time, r.Bytes)),
            await Ordered(engine, new QuerySpec("conns") { From = Base + Minute, Limit = 5 }, diag));
        Assert.Equal(1, diag.RowGroupsRead);
    }

    /// <summary>Cancelling after the first batch stops the query before it decodes another row group.</summary>
    [Fact]
    public async Task CancellationStopsBeforeTheNextRowGroup()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 10 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var rng = new Random(9);
        await Append(engine, Enumerable.Range(0, 300).Select(i => Make(Base + i * 100_000_000L, i, rng)).ToList(), flush: true);

        using var cts = new CancellationTokenSource();
        var diag = new QueryDiagnostics();
        int batches = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var batch in engine.QueryAsync(new QuerySpec("conns") { OrderByTime = true }, diag, cts.Token))
            {
                batches++;
                cts.Cancel();
            }
        });
        Assert.Equal(1, batches);
        Assert.Equal(1, diag.RowGroupsRead);
    }

    /// <summary>
    /// Packed segments (bulk load, one file over several sparse partitions) merged with flushed segments that
    /// overlap them in time: each partition's rows in order, the packed file opened once.
    /// </summary>
    [Fact]
    public async Task PackedSegmentsMergeWithOverlappingFlushedSegments()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 8 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var rng = new Random(13);
        var packed = Enumerable.Range(0, 240).Select(i => Make(Base + i * 1_000_000_000L, i, rng)).ToList(); // 4 minutes
        await BulkLoad(engine, packed);
        var flushed = Enumerable.Range(0, 120).Select(i => Make(Base + i * 2_000_000_000L + 500_000_000L, 1000 + i, rng)).ToList();
        await Append(engine, flushed, flush: true);
        var model = packed.Concat(flushed).OrderBy(r => r.Time).Select(r => (r.Time, r.Bytes)).ToList();

        var diag = new QueryDiagnostics();
        Assert.Equal(model, await Ordered(engine, new QuerySpec("conns"), diag));
        Assert.Equal(5, diag.SegmentsRead); // the packed file once, a flushed segment per partition
        Assert.InRange(diag.MaxRowGroupsHeld, 1, 2);
        Assert.Equal(model.AsEnumerable().Reverse(), await Ordered(engine, new QuerySpec("conns") { Descending = true }));
    }
}
