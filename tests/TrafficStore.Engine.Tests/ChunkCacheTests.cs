using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>The decoded-chunk cache (<see cref="StoreOptions.ChunkCacheBytes"/>) and the planner's zone-maps-before-index order.</summary>
public class ChunkCacheTests
{
    private const int RowCount = 1200; // 120 ms apart: partitions 0, 1, 2

    private static async Task<TrafficStoreEngine> Sealed(string dir, long cacheBytes, TimeProvider? clock = null)
    {
        var engine = TrafficStoreEngine.Open(Options(dir) with { RowGroupRows = 128, ChunkCacheBytes = cacheBytes, Clock = clock ?? TimeProvider.System });
        engine.RegisterTable(QueryTests.ConnSpec);
        await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(RowCount)));
        await engine.FlushAsync();
        return engine;
    }

    private static List<long> Times(IEnumerable<Dictionary<string, object?>> rows) => rows.Select(r => (long)r["time"]!).ToList();
    private static List<long> Times(IEnumerable<QueryTests.Row> rows) => rows.Select(r => r.Time).ToList();

    [Fact]
    public async Task SecondQueryIsServedFromTheCacheWithTheSameRows()
    {
        using var dir = new TempDir();
        await using var engine = await Sealed(dir.Path, 64L << 20);
        var q = new QuerySpec("conns") { OrderByTime = true }.Where(ColumnFilter.Eq("connection_id", 200L));
        var expected = Times(QueryTests.Model(RowCount).Where(r => r.ConnId == 200));

        var cold = new QueryDiagnostics();
        Assert.Equal(expected, Times(await Rows(engine, q, cold)));
        Assert.True(cold.ChunksFromDisk > 0);
        Assert.Equal(0, cold.ChunksFromCache);

        var warm = new QueryDiagnostics();
        Assert.Equal(expected, Times(await Rows(engine, q, warm)));
        Assert.Equal(0, warm.ChunksFromDisk);
        Assert.Equal(cold.ChunksFromDisk, warm.ChunksFromCache);

        var stats = engine.GetStats().ChunkCache;
        Assert.Equal(64L << 20, stats.CapacityBytes);
        Assert.Equal(cold.ChunksFromDisk, stats.Misses);
        Assert.Equal(warm.ChunksFromCache, stats.Hits);
        Assert.Equal(cold.ChunksFromDisk, stats.Entries);
        Assert.InRange(stats.Bytes, 1, stats.CapacityBytes);
    }

    [Fact]
    public async Task OffByDefault()
    {
        using var dir = new TempDir();
        await using var engine = await Sealed(dir.Path, 0);
        for (int i = 0; i < 2; i++)
        {
            var diag = new QueryDiagnostics();
            Assert.Equal(RowCount, (await Rows(engine, new QuerySpec("conns"), diag)).Count);
            Assert.Equal(0, diag.ChunksFromCache);
            Assert.True(diag.ChunksFromDisk > 0);
        }
        Assert.Equal(ChunkCacheStats.Off, engine.GetStats().ChunkCache);
        Assert.Equal(0, new StoreOptions(dir.Path).ChunkCacheBytes);
    }

    [Fact]
    public async Task StaysWithinItsCapacityByEvictingTheLeastRecentlyUsed()
    {
        using var dir = new TempDir();
        const long capacity = 8 << 10; // a few chunks of 128 rows
        await using var engine = await Sealed(dir.Path, capacity);
        var expected = Times(QueryTests.Model(RowCount));
        for (int i = 0; i < 2; i++)
        {
            var diag = new QueryDiagnostics();
            Assert.Equal(expected, Times(await Rows(engine, new QuerySpec("conns") { OrderByTime = true }, diag)));
            Assert.True(diag.ChunksFromDisk > 0); // a full scan cycles through more than fits
        }
        var stats = engine.GetStats().ChunkCache;
        Assert.InRange(stats.Bytes, 1, capacity);
        Assert.True(stats.Evictions > 0);
    }

    [Fact]
    public void LeastRecentlyUsedChunkIsEvictedFirst()
    {
        var vector = Columns.ColumnVector.OfLongs(Columns.ColumnType.Int64, new long[100], null, 0);
        long entry = DecodedChunkCache.SizeOf(vector);
        Assert.Equal(8 * 100 + 160, entry);
        var cache = new DecodedChunkCache(3 * entry);
        cache.Add(1, 0, 0, vector);
        cache.Add(1, 0, 1, vector);
        cache.Add(1, 0, 2, vector);
        Assert.True(cache.TryGet(1, 0, 0, out _)); // (1,0,1) is now the least recently used
        cache.Add(1, 0, 3, vector); // full: the first read of a chunk is only remembered
        Assert.False(cache.TryGet(1, 0, 3, out _));
        Assert.True(cache.TryGet(1, 0, 1, out _));
        Assert.True(cache.TryGet(1, 0, 0, out _)); // (1,0,2) is now the least recently used
        cache.Add(1, 0, 3, vector); // read again soon after: added, evicting the least recently used
        Assert.False(cache.TryGet(1, 0, 2, out _));
        Assert.True(cache.TryGet(1, 0, 1, out _));
        Assert.True(cache.TryGet(1, 0, 0, out _));
        Assert.True(cache.TryGet(1, 0, 3, out _));
        Assert.Equal(1, cache.Stats.Evictions);

        cache.Invalidate(1);
        Assert.Equal(0, cache.Stats.Entries);
        Assert.Equal(0, cache.Stats.Bytes);
        cache.Add(1, 0, 4, vector); // a read that was in flight when segment 1 was removed
        Assert.False(cache.TryGet(1, 0, 4, out _));
    }

    [Fact]
    public void AScanLargerThanTheCacheDoesNotFlushTheChunksQueriesRepeat()
    {
        var vector = Columns.ColumnVector.OfLongs(Columns.ColumnType.Int64, new long[100], null, 0);
        var cache = new DecodedChunkCache(3 * DecodedChunkCache.SizeOf(vector));
        for (int g = 0; g < 3; g++) cache.Add(1, 0, g, vector); // the hot set fills the cache
        for (int g = 0; g < 1000; g++)
        {
            Assert.False(cache.TryGet(2, 0, g, out _));
            cache.Add(2, 0, g, vector); // an export reads every chunk of segment 2 once
        }
        for (int g = 0; g < 3; g++) Assert.True(cache.TryGet(1, 0, g, out _));
        Assert.Equal(0, cache.Stats.Evictions);
        Assert.Equal(1000, cache.DeferredAdmissions);
        cache.Add(2, 0, 999, vector); // a scanned chunk read again is admitted
        Assert.True(cache.TryGet(2, 0, 999, out _));
        Assert.Equal(1, cache.Stats.Evictions);
        // Only the last GhostKeys turned-away chunks are remembered.
        for (int g = 0; g < DecodedChunkCache.GhostKeys + 1; g++) cache.Add(3, 0, g, vector);
        cache.Add(3, 0, 0, vector);
        Assert.False(cache.TryGet(3, 0, 0, out _));
    }

    [Fact]
    public void BooleansAreCountedAsTheLongsThatHoldThem()
    {
        var bools = Columns.ColumnVector.OfLongs(Columns.ColumnType.Bool, new long[1000], null, 0);
        Assert.Equal(8 * 1000 + 160, DecodedChunkCache.SizeOf(bools));
        Assert.True(DecodedChunkCache.SizeOf(bools) > bools.RawBytes);
    }

    [Fact]
    public async Task RetentionDropsTheDeletedSegmentsChunks()
    {
        using var dir = new TempDir();
        // Now is minute 3; a maximum age of 2.5 minutes cuts at minute 0.5: partition 0 (ending at minute 1) stays,
        // so use 1.5 minutes: the cutoff is minute 1.5, partition 0 ends before it and goes, partition 1 straddles it and stays.
        await using var engine = await Sealed(dir.Path, 64L << 20, new FixedClock(QuerySpec.FromNs(Base + 3 * Minute)));
        await Rows(engine, new QuerySpec("conns"));
        int before = engine.GetStats().ChunkCache.Entries;

        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(1.5)) });
        var report = await engine.ApplyRetentionAsync();
        Assert.Contains(report.Actions, a => a.Kind == RetentionActionKind.DeletedSegment);

        var stats = engine.GetStats().ChunkCache;
        Assert.True(stats.Invalidations > 0);
        Assert.Equal(before - stats.Invalidations, stats.Entries);
        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns") { OrderByTime = true }, diag);
        Assert.Equal(Times(QueryTests.Model(RowCount).Where(r => r.Time >= Base + Minute)), Times(rows));
        Assert.Equal(0, diag.ChunksFromDisk); // the survivors are still cached
    }

    [Fact]
    public async Task ChunksReadFromDiskAreStillChecksummedAndACorruptSegmentLeavesTheCache()
    {
        using var dir = new TempDir();
        await using var engine = await Sealed(dir.Path, 64L << 20);
        var middle = Directory.GetFiles(Path.Combine(dir.Path, "segments", "conns"), "*.seg", SearchOption.AllDirectories).Order().ElementAt(1);
        var footer = SegmentReader.ReadFooter(middle);

        // Cache the time column of every segment, then damage another column of the middle one.
        await Rows(engine, new QuerySpec("conns") { Columns = ["time"] });
        var path = footer.Chunks[footer.ColumnIndex("path")][0];
        using (var f = new FileStream(middle, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = path.Offset + 2;
            int b = f.ReadByte();
            f.Position = path.Offset + 2;
            f.WriteByte((byte)(b ^ 0x5A));
        }

        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns"), diag);
        Assert.Equal(QueryWarning.CorruptSegment, Assert.Single(diag.Warnings).Kind);
        Assert.Single(engine.Health.Quarantined);
        Assert.Equal(QueryTests.Model(RowCount).Count(r => r.Time < Base + Minute || r.Time >= Base + 2 * Minute), rows.Count);
        Assert.True(engine.GetStats().ChunkCache.Invalidations > 0); // the middle segment's cached time chunks went with it
    }

    [Fact]
    public async Task UnboundedIndexedQueryLooksUpOnlyPartitionsTheZoneMapsLeave()
    {
        using var dir = new TempDir();
        await using var engine = await Sealed(dir.Path, 0);
        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("conns").Where(ColumnFilter.Eq("connection_id", 10L)), diag);
        Assert.Equal(Times(QueryTests.Model(RowCount).Where(r => r.ConnId == 10)), Times(rows).Order().ToList());
        Assert.True(diag.UsedIndex);
        Assert.Equal(1, diag.SegmentsRead);
        // connection ids grow with time, so the other partitions' zone maps exclude 10 before the index is asked.
        Assert.Equal(2, diag.SegmentsSkippedByZoneMap);
        Assert.Equal(0, diag.SegmentsSkippedByIndex);
    }
}
