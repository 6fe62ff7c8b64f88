using TrafficStore.Engine.Query;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// The bulk-load path (<see cref="BulkLoad"/>): rows sealed without the WAL, checked against the LINQ
/// model of <see cref="QueryTests"/>, in time order and shuffled, through reopen; acknowledgement and
/// visibility; and recovery of a seal unit that reached its commit record before a crash.
/// </summary>
public class BulkLoadTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RowsAreStoredWholeInOrderAndIndexed(bool shuffle)
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        var input = shuffle ? model.OrderBy(r => (r.ConnId * 7919) % 3001).ToList() : model;
        var options = Options(dir.Path) with { RowGroupRows = 100, RowGroupMaxBytes = 4 << 10 };
        var sealedUnits = new List<BulkSealed>();
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await using var bulk = engine.BeginBulkLoad(new BulkLoadOptions { SealBytes = 40 << 10, Sealed = sealedUnits.Add });
            var numbers = new List<long>();
            for (int i = 0; i < input.Count; i += 70)
                numbers.Add(await bulk.AddAsync("conns", QueryTests.ToBatch(input.Skip(i).Take(70).ToList())));
            var result = await bulk.CompleteAsync();

            Assert.Equal(model.Count, result.RowsByTable["conns"]);
            Assert.True(result.SealUnits > 1, $"{result.SealUnits} seal units");
            Assert.Equal(numbers[^1], sealedUnits[^1].UpToBatch);
            Assert.Equal(model.Count, sealedUnits.Sum(s => s.Rows));
            var stats = engine.GetStats();
            Assert.Equal(model.Count, stats.Tables["conns"].SealedRows);
            Assert.Equal(0, stats.Tables["conns"].UnsealedRows);
            Assert.Equal(0, stats.WalCommits); // nothing went through the WAL (checked again below by deleting it)
            await AssertModel(engine, model);
        }
        // The rows are in segments only: with the WAL gone they are all still there after reopening.
        foreach (var wal in Directory.EnumerateFiles(Path.Combine(dir.Path, "wal"), "*.wal")) File.Delete(wal);
        await using (var reopened = TrafficStoreEngine.Open(options with { VerifyChunksOnOpen = true }))
        {
            reopened.RegisterTable(QueryTests.ConnSpec);
            Assert.Empty(reopened.Health.Quarantined);
            await AssertModel(reopened, model);
            // Row groups respect both bounds (rows, and raw bytes: a group ends before the row that would cross it).
            foreach (var file in Directory.EnumerateFiles(Path.Combine(dir.Path, "segments"), "*.seg", SearchOption.AllDirectories))
            {
                using var reader = Segments.SegmentReader.Open(file);
                Assert.All(reader.Footer.RowGroups, g => Assert.InRange(g.RowCount, 1, 100));
                Assert.Equal(0, reader.Footer.FlushSeq);
            }
        }
    }

    [Fact]
    public async Task RowsAreVisibleOnlyOnceTheirSealIsDurable()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(600);
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        engine.RegisterTable(QueryTests.ConnSpec);
        await using var bulk = engine.BeginBulkLoad(new BulkLoadOptions { SealBytes = long.MaxValue, MaxBufferedBytes = long.MaxValue });
        await bulk.AddAsync("conns", QueryTests.ToBatch(model.Take(300).ToList()));
        Assert.Empty(await Rows(engine, new QuerySpec("conns"))); // buffered, not acknowledged: not served
        await bulk.AddAsync("conns", QueryTests.ToBatch(model.Skip(300).ToList()));
        await bulk.CompleteAsync();
        Assert.Equal(600, (await Rows(engine, new QuerySpec("conns"))).Count);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await bulk.AddAsync("conns", QueryTests.ToBatch(model.Take(1).ToList())));
    }

    [Fact]
    public async Task ClosingTheStoreStopsAnOpenBulkLoadWithAcknowledgedUnitsKept()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(900);
        var sealedUnits = new List<BulkSealed>();
        var engine = TrafficStoreEngine.Open(Options(dir.Path));
        engine.RegisterTable(QueryTests.ConnSpec);
        var bulk = engine.BeginBulkLoad(new BulkLoadOptions { SealBytes = 1, Sealed = sealedUnits.Add });
        await bulk.AddAsync("conns", QueryTests.ToBatch(model.Take(300).ToList()));   // sealed on its own (SealBytes 1)
        var last = await bulk.AddAsync("conns", QueryTests.ToBatch(model.Skip(300).ToList()));
        await engine.DisposeAsync();   // neither completed nor disposed by its caller

        // Everything acknowledged before the close is there, nothing unacknowledged half-written, no temp files left.
        long acknowledged = sealedUnits.Sum(u => u.Rows);
        Assert.True(acknowledged >= 300, $"{acknowledged} rows acknowledged");
        await Assert.ThrowsAnyAsync<Exception>(async () => await bulk.AddAsync("conns", QueryTests.ToBatch(model.Take(1).ToList())));
        await using var reopened = TrafficStoreEngine.Open(Options(dir.Path) with { VerifyChunksOnOpen = true });
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Empty(reopened.Health.Quarantined);
        Assert.Equal(acknowledged, (await Rows(reopened, new QuerySpec("conns"))).Count);
        Assert.Empty(Directory.EnumerateFiles(dir.Path, "*.tmp", SearchOption.AllDirectories));
        Assert.True(last >= 2);
    }

    [Fact]
    public async Task NullTimesAndUnknownTablesAreRejected()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        engine.RegisterTable(QueryTests.ConnSpec);
        await using var bulk = engine.BeginBulkLoad();
        var rows = QueryTests.Model(3);
        var batch = Batch(QueryTests.ConnSchema,
            Timestamps(rows[0].Time, null, rows[2].Time), Timestamps(null, null, null), Strings("a", "b", "c"), Strings("p", "p", "p"),
            Int64(1, 2, 3), Int64(1, 2, 3), Doubles(1, 2, 3), Bools(true, false, true), Strings("/", "/", "/"));
        await Assert.ThrowsAsync<ArgumentException>(async () => await bulk.AddAsync("conns", batch));
        await Assert.ThrowsAsync<KeyNotFoundException>(async () => await bulk.AddAsync("nope", QueryTests.ToBatch(rows)));
    }

    /// <summary>
    /// A crash after a seal unit's commit record was written but before all its renames: open finishes
    /// the renames. (Simulated by turning two sealed segments back into temp files beside a commit record.)
    /// </summary>
    [Fact]
    public async Task OpenFinishesACommittedUnitAndDropsAnUncommittedOne()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(1200);
        var options = Options(dir.Path) with { RowGroupRows = 100, MaxSegmentBytes = 4 << 10 }; // its 3 sparse partitions packed, cut into several segments
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await using var bulk = engine.BeginBulkLoad();
            await bulk.AddAsync("conns", QueryTests.ToBatch(model));
            await bulk.CompleteAsync();
        }
        var layout = new StoreLayout(dir.Path);
        var segments = Directory.EnumerateFiles(layout.SegmentsDirectory, "*.seg", SearchOption.AllDirectories).Order().ToList();
        Assert.True(segments.Count >= 2, $"{segments.Count} segments");
        StoreLayout.TryParseSegmentId(segments[0], out long firstId);
        File.WriteAllLines(layout.BulkCommitFile(firstId), segments.Take(2).Select(s => Path.GetRelativePath(layout.Root, s)));
        foreach (var s in segments.Take(2)) File.Move(s, StoreLayout.TempFileFor(s));
        // An unfinished unit (no commit record): a temp segment file only — never served.
        var stray = StoreLayout.TempFileFor(layout.SegmentFile("conns", Base, 999_999));
        Directory.CreateDirectory(Path.GetDirectoryName(stray)!);
        File.Copy(StoreLayout.TempFileFor(segments[0]), stray);

        await using var reopened = TrafficStoreEngine.Open(options);
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Contains(reopened.Health.RecoveryNotes, n => n.Contains("Finished bulk commit"));
        Assert.False(File.Exists(layout.BulkCommitFile(firstId)));
        Assert.False(File.Exists(stray));
        Assert.All(segments, s => Assert.True(File.Exists(s)));
        await AssertModel(reopened, model);
    }

    private static async Task AssertModel(TrafficStoreEngine engine, List<QueryTests.Row> model)
    {
        var rows = await Rows(engine, new QuerySpec("conns") { OrderByTime = true });
        Assert.Equal(model.Select(r => r.Time).Order(), rows.Select(r => (long)r["time"]!));
        Assert.Equal(model.OrderBy(r => r.Time).Select(r => r.Path), rows.Select(r => (string)r["path"]!));
        Assert.Equal(model.Select(r => r.Bytes).Order(), rows.Select(r => (long)r["bytes"]!).Order());
        var diag = new QueryDiagnostics();
        var pod = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("pod", "pod-3")), diag);
        Assert.True(diag.UsedIndex);
        Assert.Equal(model.Count(r => r.Pod == "pod-3"), pod.Count);
    }
}
