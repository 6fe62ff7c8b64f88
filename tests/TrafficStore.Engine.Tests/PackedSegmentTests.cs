using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// Packed segments (format 3): a bulk-load seal unit writes consecutive sparse partitions into one segment file.
/// Queries, ordering, as-of, estimates, the index (also rebuilt from footers on open), retention and quarantine
/// are checked against the LINQ model of <see cref="QueryTests"/> and against the same rows stored one
/// partition per segment (<see cref="StoreOptions.SparsePartitionBytes"/> = 0).
/// </summary>
public class PackedSegmentTests
{
    internal static async Task BulkLoad(TrafficStoreEngine engine, IReadOnlyList<QueryTests.Row> rows, long sealBytes = long.MaxValue, int batchRows = 250)
    {
        await using var bulk = engine.BeginBulkLoad(new BulkLoadOptions { SealBytes = sealBytes, MaxBufferedBytes = long.MaxValue });
        for (int i = 0; i < rows.Count; i += batchRows)
            await bulk.AddAsync("conns", QueryTests.ToBatch(rows.Skip(i).Take(batchRows).ToList()));
        await bulk.CompleteAsync();
    }

    internal static List<string> SegmentFiles(string dir) =>
        Directory.GetFiles(Path.Combine(dir, "segments"), "*.seg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();

    internal static List<SegmentFooter> Footers(string dir) =>
        SegmentFiles(dir).Select(SegmentReader.ReadFooter).OrderBy(f => f.SegmentId).ToList();

    /// <summary>Every row of every row group lies in the partition the footer names for that row group.</summary>
    internal static void AssertRowGroupsStayInTheirPartition(string path)
    {
        using var reader = SegmentReader.Open(path);
        var footer = reader.Footer;
        int time = footer.ColumnIndex("time");
        for (int g = 0; g < footer.RowGroups.Length; g++)
        {
            var times = reader.ReadChunk(time, g);
            long partition = footer.RowGroups[g].Partition;
            for (int i = 0; i < times.Length; i++) Assert.InRange(times.Longs[i], partition, partition + Minute - 1);
            if (g > 0) Assert.True(footer.RowGroups[g - 1].Partition <= partition);
        }
        Assert.Equal(footer.RowGroups[0].Partition, footer.PartitionStart);
    }

    [Fact]
    public async Task SparsePartitionsOfOneSealUnitShareOneSegment()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(); // 6 one-minute partitions of 500 rows
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 100 });
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model, batchRows: 100);

        var path = Assert.Single(SegmentFiles(dir.Path));
        Assert.Equal("TSSEG004", SegmentMagic(path));
        Assert.Equal(Path.Combine(dir.Path, "segments", "conns", "20260101T000000Z"), Path.GetDirectoryName(path)); // the first partition's folder
        var footer = SegmentReader.ReadFooter(path);
        Assert.Equal(Enumerable.Range(0, 6).Select(k => Base + k * Minute), footer.Partitions);
        Assert.Equal(30, footer.RowGroups.Length); // 500 rows per partition in 100-row groups: none spans two partitions
        AssertRowGroupsStayInTheirPartition(path);
        var stats = engine.GetStats().Tables["conns"];
        Assert.Equal((1, 6, 3000L), (stats.Segments, stats.Partitions, stats.SealedRows));

        // One minute through the index: only that partition's row groups are read.
        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns") { From = Base + 2 * Minute, To = Base + 3 * Minute }.Where(ColumnFilter.Eq("pod", "pod-3")), diag);
        Assert.Equal(model.Where(r => r.Time >= Base + 2 * Minute && r.Time < Base + 3 * Minute && r.Pod == "pod-3").Select(r => r.Time),
            rows.Select(r => (long)r["time"]!).Order());
        Assert.True(diag.UsedIndex);
        Assert.Equal(5, diag.RowGroupsRead);
    }

    [Fact]
    public async Task DensePartitionsKeepSegmentsOfTheirOwnAndPackedRunsAreCutAtMaxSegmentBytes()
    {
        using var dir = new TempDir();
        // Partitions 0, 1, 3, 4: 40 rows each (sparse); partition 2: 2000 rows (dense).
        var model = new List<QueryTests.Row>();
        foreach (var (minute, count) in new[] { (0, 40), (1, 40), (2, 2000), (3, 40), (4, 40) })
            model.AddRange(QueryTests.Model(count, Minute / count).Select(r => r with { Time = r.Time + minute * Minute, End = r.End + minute * Minute }));
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 100, SparsePartitionBytes = 40 << 10 }))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await BulkLoad(engine, model);
        }
        Assert.Equal(
            [[Base, Base + Minute], [Base + 2 * Minute], [Base + 3 * Minute, Base + 4 * Minute]],
            Footers(dir.Path).Select(f => f.Partitions.ToArray()));

        // A run of sparse partitions is cut at MaxSegmentBytes like any segment; row groups still never span partitions.
        using var small = new TempDir();
        await using (var engine = TrafficStoreEngine.Open(Options(small.Path) with { RowGroupRows = 100, MaxSegmentBytes = 12 << 10 }))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await BulkLoad(engine, QueryTests.Model());
            Assert.Equal(QueryTests.Model().Select(r => r.Time), (await Rows(engine, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!));
        }
        var footers = Footers(small.Path);
        Assert.InRange(footers.Count, 2, 20);
        Assert.Contains(footers, f => f.IsPacked);
        for (int i = 1; i < footers.Count; i++) Assert.True(footers[i - 1].Partitions[^1] <= footers[i].PartitionStart); // consecutive runs
        foreach (var file in SegmentFiles(small.Path)) AssertRowGroupsStayInTheirPartition(file);
    }

    /// <summary>
    /// The same random queries on the rows bulk-loaded packed and one partition per segment: equal to the
    /// model and to each other, also after reopening (index rebuilt from the footers, WAL gone).
    /// </summary>
    [Theory]
    [InlineData(11, false)]
    [InlineData(22, true)]
    [InlineData(33, true)]
    public async Task RandomQueriesMatchTheModelAndTheUnpackedStore(int seed, bool shuffle)
    {
        using var packedDir = new TempDir();
        using var plainDir = new TempDir();
        var rng = new Random(seed);
        var model = QueryTests.Model();
        var input = shuffle ? model.OrderBy(_ => rng.Next()).ToList() : model;
        int rowGroupRows = 50 + rng.Next(150);
        var options = new[] { (packedDir.Path, 16L << 20), (plainDir.Path, 0L) };
        foreach (var (path, sparse) in options)
        {
            await using var engine = TrafficStoreEngine.Open(Options(path) with { RowGroupRows = rowGroupRows, SparsePartitionBytes = sparse });
            engine.RegisterTable(QueryTests.ConnSpec);
            await BulkLoad(engine, input, sealBytes: 100 << 10); // several seal units
        }
        Assert.Contains(Footers(packedDir.Path), f => f.IsPacked);
        Assert.All(Footers(plainDir.Path), f => Assert.False(f.IsPacked));
        Assert.True(SegmentFiles(packedDir.Path).Count < SegmentFiles(plainDir.Path).Count);

        var queries = Enumerable.Range(0, 40).Select(_ => RandomQuery(rng, model)).ToList();
        for (int round = 0; round < 2; round++)
        {
            if (round == 1)
                foreach (var wal in Directory.EnumerateFiles(packedDir.Path, "*.wal", SearchOption.AllDirectories)) File.Delete(wal);
            await using var packed = TrafficStoreEngine.Open(Options(packedDir.Path) with { VerifyChunksOnOpen = round == 1 });
            await using var plain = TrafficStoreEngine.Open(Options(plainDir.Path));
            packed.RegisterTable(QueryTests.ConnSpec);
            plain.RegisterTable(QueryTests.ConnSpec);
            Assert.Empty(packed.Health.Quarantined);
            Assert.Equal(plain.GetStats().Tables["conns"].Partitions, packed.GetStats().Tables["conns"].Partitions);
            foreach (var (spec, all) in queries)
            {
                var packedDiag = new QueryDiagnostics();
                var got = (await Rows(packed, spec, packedDiag)).Select(r => (long)r["time"]!).ToList();
                var plainDiag = new QueryDiagnostics();
                var plainGot = (await Rows(plain, spec, plainDiag)).Select(r => (long)r["time"]!).ToList();
                var want = spec.OrderByTime && spec.Descending ? all.OrderDescending().ToList() : all;
                if (spec.Limit is long limit) want = want.Take((int)limit).ToList();
                Assert.Equal(want, spec.OrderByTime ? got : got.Order().ToList());
                Assert.Equal(spec.OrderByTime ? plainGot : plainGot.Order().ToList(), spec.OrderByTime ? got : got.Order().ToList());
                // The same row groups are cut either way, so the index and zone maps leave the same ones to read.
                if (spec.Limit is null) Assert.Equal(plainDiag.RowGroupsRead, packedDiag.RowGroupsRead);

                // Estimates: one group per partition; the groups' narrowed queries return exactly the query's rows.
                var unlimited = spec with { Limit = null };
                var estimate = await packed.EstimateAsync(unlimited);
                Assert.Equal(estimate.Groups.Select(g => g.PartitionStart).Distinct().Count(), estimate.Groups.Count);
                Assert.All(estimate.Groups, g => Assert.Equal(Minute, g.PartitionEnd - g.PartitionStart));
                Assert.True(estimate.EstimatedRows >= all.Count);
                var narrowed = new List<long>();
                foreach (var group in estimate.Groups)
                    narrowed.AddRange((await Rows(packed, group.Narrow(unlimited))).Select(r => (long)r["time"]!));
                Assert.Equal(all, narrowed.Order());
            }
        }
    }

    private static (QuerySpec Spec, List<long> Want) RandomQuery(Random rng, List<QueryTests.Row> model)
    {
        var spec = new QuerySpec("conns");
        IEnumerable<QueryTests.Row> expected = model;
        (spec, expected) = QueryTests.RandomWindow(rng, spec, expected);
        switch (rng.Next(4))
        {
            case 0: { var p = $"pod-{rng.Next(12)}"; spec = spec.Where(ColumnFilter.Eq("pod", p)); expected = expected.Where(r => r.Pod == p); break; }
            case 1: { long c = rng.Next(1000); spec = spec.Where(ColumnFilter.Eq("connection_id", c)); expected = expected.Where(r => r.ConnId == c); break; }
            case 2: { var n = $"ns{rng.Next(4)}"; spec = spec.Where(ColumnFilter.Eq("namespace", n)); expected = expected.Where(r => r.Ns == n); break; }
        }
        if (rng.Next(2) == 0)
        {
            spec = spec with { OrderByTime = true, Descending = rng.Next(2) == 0 };
            if (rng.Next(3) == 0) spec = spec with { Limit = rng.Next(1, 60) };
        }
        return (spec.Select("time", "pod"), expected.Select(r => r.Time).Order().ToList());
    }

    [Fact]
    public async Task MaxBytesDeletesOldestPackedSegmentFirst()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 100 });
        engine.RegisterTable(QueryTests.ConnSpec);
        // Loaded newest first: segment ids do not follow time, retention must go by the newest row.
        await BulkLoad(engine, model.Where(r => r.Time >= Base + 4 * Minute).ToList());
        await BulkLoad(engine, model.Where(r => r.Time >= Base + 2 * Minute && r.Time < Base + 4 * Minute).ToList());
        await BulkLoad(engine, model.Where(r => r.Time < Base + 2 * Minute).ToList());
        var sizes = SegmentFiles(dir.Path).Select(f => (Footer: SegmentReader.ReadFooter(f), Bytes: new FileInfo(f).Length)).OrderBy(x => x.Footer.MaxTime).ToList();
        Assert.All(sizes, s => Assert.True(s.Footer.IsPacked));
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxBytes: sizes[1].Bytes + sizes[2].Bytes) });
        var report = await engine.ApplyRetentionAsync();
        Assert.Equal([sizes[0].Footer.SegmentId], report.Actions.Select(a => a.SegmentId));
        Assert.Equal(model.Where(r => r.Time >= Base + 2 * Minute).Select(r => r.Time), (await Rows(engine, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!));
    }

    [Fact]
    public async Task NamespaceRetentionRewritesAPackedSegmentIntoOnePackedSegment()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        var options = Options(dir.Path) with { RowGroupRows = 100, Clock = new FixedClock(QuerySpec.FromNs(Base + 10 * Minute)) };
        long cutoff = Base + 10 * Minute - (long)(6.5 * Minute);
        var expected = model.Where(r => !(r.Ns == "ns1" && r.Time < cutoff)).Select(r => r.Time).ToList();
        await using (var engine = TrafficStoreEngine.Open(options))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await BulkLoad(engine, model);
            var original = Assert.Single(Footers(dir.Path));
            await engine.SetRetentionPolicyAsync(new RetentionPolicy
            {
                Namespaces = new Dictionary<string, RetentionLimits> { ["ns1"] = new(MaxAge: TimeSpan.FromMinutes(6.5)) },
            });
            var action = Assert.Single((await engine.ApplyRetentionAsync()).Actions);
            Assert.Equal((RetentionActionKind.RewroteSegment, original.SegmentId, (long)model.Count(r => r.Ns == "ns1" && r.Time < cutoff)),
                (action.Kind, action.SegmentId, action.RowsDeleted));
            var rewritten = Assert.Single(Footers(dir.Path));
            Assert.Equal(original.SegmentId, rewritten.Replaces);
            Assert.Equal(original.Partitions, rewritten.Partitions);
            AssertRowGroupsStayInTheirPartition(Assert.Single(SegmentFiles(dir.Path)));
            Assert.Equal(expected, (await Rows(engine, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!));
            Assert.Equal(expected.Count(t => t >= Base + 3 * Minute && t < Base + 4 * Minute),
                (await Rows(engine, new QuerySpec("conns") { From = Base + 3 * Minute, To = Base + 4 * Minute })).Count);
        }
        await using var reopened = TrafficStoreEngine.Open(options);
        reopened.RegisterTable(QueryTests.ConnSpec);
        Assert.Equal(expected, (await Rows(reopened, new QuerySpec("conns") { OrderByTime = true, Descending = true })).Select(r => (long)r["time"]!).Reverse());
        Assert.Empty(await Rows(reopened, new QuerySpec("conns") { To = cutoff }.Where(ColumnFilter.Eq("namespace", "ns1"))));
    }

    [Fact]
    public async Task ACorruptPackedSegmentIsQuarantinedForEveryPartitionItHolds()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 100 });
        engine.RegisterTable(QueryTests.ConnSpec);
        await BulkLoad(engine, model);
        var path = Assert.Single(SegmentFiles(dir.Path));
        var footer = SegmentReader.ReadFooter(path);
        // Damage a chunk of a row group in minute 4.
        int g = Array.FindIndex(footer.RowGroups, r => r.Partition == Base + 4 * Minute);
        var chunk = footer.Chunks[footer.ColumnIndex("pod")][g];
        using (var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            file.Position = chunk.Offset + chunk.StoredLength / 2;
            int b = file.ReadByte();
            file.Position--;
            file.WriteByte((byte)(b ^ 0x5A));
        }
        var diag = new QueryDiagnostics();
        await Rows(engine, new QuerySpec("conns") { From = Base + 4 * Minute, To = Base + 5 * Minute }.Where(ColumnFilter.Eq("pod", "pod-1")), diag);
        Assert.Contains(diag.Warnings, w => w.Kind == QueryWarning.CorruptSegment);
        Assert.Single(engine.Health.Quarantined);
        Assert.False(File.Exists(path));
        // Minute 0 was in the same file: not served, and the query says so.
        var later = new QueryDiagnostics();
        Assert.Empty(await Rows(engine, new QuerySpec("conns") { From = Base, To = Base + Minute }, later));
        Assert.Contains(later.Warnings, w => w.Kind == QueryWarning.QuarantinedSegmentInRange);
        Assert.Empty(await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", 10L))));
    }

    /// <summary>
    /// Fixtures/v2-store was written by the format-version-2 build (main at 8fa3c3b) from <see cref="QueryTests.Model"/>(2000 rows,
    /// 50 ms apart: two partitions) with 300-row row groups, through the WAL; this build reads it, queries across it and
    /// packed segments bulk-loaded beside it, and rewrites it in format 3.
    /// </summary>
    [Fact]
    public async Task VersionTwoStoreIsStillReadAndExtendedWithPackedSegments()
    {
        using var dir = new TempDir();
        CopyFixtureStore("v2-store", dir.Path);
        var v2Files = SegmentFiles(dir.Path);
        Assert.Equal(2, v2Files.Count);
        Assert.All(v2Files, f => Assert.Equal("TSSEG002", SegmentMagic(f)));
        Assert.All(v2Files, f => Assert.False(SegmentReader.ReadFooter(f).IsPacked));

        var old = QueryTests.Model(2000, 50_000_000);
        var added = QueryTests.Model(900, 400_000_000).Select(r => r with { Time = r.Time + 2 * Minute, End = r.End + 2 * Minute }).ToList(); // minutes 2..7
        var all = old.Concat(added).OrderBy(r => r.Time).ToList();
        var now = QuerySpec.FromNs(Base + 20 * Minute);
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { VerifyChunksOnOpen = true, Clock = new FixedClock(now) });
        engine.RegisterTable(QueryTests.ConnSpec);
        Assert.Empty(engine.Health.Quarantined);
        await AssertConnsHoldExactly(engine, old);

        await BulkLoad(engine, added);
        Assert.Contains(Footers(dir.Path), f => f.IsPacked);
        Assert.Equal(all.Select(r => r.Time).Reverse(), (await Rows(engine, new QuerySpec("conns") { OrderByTime = true, Descending = true })).Select(r => (long)r["time"]!));
        var diag = new QueryDiagnostics();
        Assert.Equal(all.Count(r => r.Pod == "pod-3"), (await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("pod", "pod-3")), diag)).Count);
        Assert.True(diag.UsedIndex);
        long asOf = Base + 90 * Second;
        Assert.Equal(all.Count(r => r.Time <= asOf && (r.End is null || r.End >= asOf)), (await Rows(engine, new QuerySpec("conns") { AsOf = asOf })).Count);

        // A namespace rewrite of a version-2 segment writes version 4.
        await engine.SetRetentionPolicyAsync(new RetentionPolicy
        {
            Namespaces = new Dictionary<string, RetentionLimits> { ["ns2"] = new(MaxAge: TimeSpan.FromMinutes(19)) },
        });
        var action = Assert.Single((await engine.ApplyRetentionAsync()).Actions); // only minute 0 has rows older than the cutoff
        Assert.Equal((RetentionActionKind.RewroteSegment, 1L), (action.Kind, action.SegmentId));
        var rewritten = Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "segments", "conns", "20260101T000000Z")));
        Assert.Equal("TSSEG004", SegmentMagic(rewritten));
        Assert.Equal(1L, SegmentReader.ReadFooter(rewritten).Replaces);
        Assert.Equal(all.Where(r => !(r.Ns == "ns2" && r.Time < Base + Minute)).Select(r => r.Time),
            (await Rows(engine, new QuerySpec("conns") { OrderByTime = true })).Select(r => (long)r["time"]!));
    }
}
