using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>
/// <see cref="PieceDictionaryCache"/>: retention's one-pass reads add no blocks (they would sit under a key no query
/// asks for, evicting useful ones), and the footers the cache keeps alive count against its bound.
/// </summary>
public class DictionaryCacheTests
{
    // A table name no other test uses: the cache is process-wide and tests run in parallel.
    private static readonly Schema BlobSchema = Schema(("time", Ts), ("body", BinaryType.Default));
    private static TableSpec BlobSpec => new("dictcache_blobs", BlobSchema, "time");

    [Fact]
    public async Task RetentionRewriteReadsAddNoDictionaryBlocksToTheCache()
    {
        using var dir = new TempDir();
        var random = new Random(3);
        var assets = Enumerable.Range(0, 3).Select(_ => { var b = new byte[16 * 1024]; random.NextBytes(b); return b; }).ToArray();
        // 240 rows over minutes 0..1, every other body one of three assets: a packed segment with a piece dictionary.
        var model = Enumerable.Range(0, 240).Select(i => (Time: Base + i * 500_000_000L, Body: i % 2 == 0 ? assets[i % 3] : BitConverter.GetBytes(i))).ToList();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with
        {
            RowGroupRows = 20, Clock = new FixedClock(QuerySpec.FromNs(Base + 10 * Minute)),
        });
        engine.RegisterTable(BlobSpec);
        await using (var bulk = engine.BeginBulkLoad(new BulkLoadOptions()))
        {
            await bulk.AddAsync("dictcache_blobs", Batch(BlobSchema, Timestamps(model.Select(m => (long?)m.Time).ToArray()), Binaries(model.Select(m => m.Body).ToArray())));
            await bulk.CompleteAsync();
        }
        var original = Assert.Single(engine.TableState("dictcache_blobs").Snapshot.Segments.Values).Footer;
        Assert.Equal(2, original.Partitions.Count);
        Assert.NotEmpty(original.Dictionaries);
        Assert.Contains(original.Chunks[original.ColumnIndex("body")].Where((_, g) => original.RowGroups[g].Partition == Base + Minute), c => c.Dictionary == 1);

        // Minute 0 is due: the rewrite reads minute 1's body chunks, expanding them against the dictionary.
        await engine.SetRetentionPolicyAsync(new RetentionPolicy { Global = new(MaxAge: TimeSpan.FromMinutes(8.5)) });
        Assert.Equal(RetentionActionKind.RewroteSegment, Assert.Single((await engine.ApplyRetentionAsync()).Actions).Kind);
        Assert.DoesNotContain(PieceDictionaryCache.Shared.Footers(), f =>
            f.Table == "dictcache_blobs" && f.SegmentId == original.SegmentId && f.CreatedUnixMs == original.CreatedUnixMs);

        var rows = await Rows(engine, new QuerySpec("dictcache_blobs") { OrderByTime = true });
        Assert.Equal(model.Where(m => m.Time >= Base + Minute).Select(m => Convert.ToHexString(m.Body)), rows.Select(r => (string)r["body"]!));
    }

    private static SegmentFooter Footer(long id, int indexValues, int blocks = 1) => new()
    {
        Table = "t", SegmentId = id, PartitionStart = 0, FlushSeq = 0, RowCount = 0, MinTime = 0, MaxTime = 0, CreatedUnixMs = 0,
        UncompressedBytes = 0, SchemaVersion = 1, Columns = [], TimeColumn = "time", RowGroups = [], Chunks = [],
        Index = [new IndexSummary("ip", Enumerable.Range(0, indexValues).Select(i => (new byte[100], new[] { 0 })).ToList())],
        Dictionaries = Enumerable.Range(0, blocks).Select(b => new DictionaryInfo(8 + b * 1024, 1024, 1024, 0, 0)).ToArray(),
    };

    [Fact]
    public void CachedFootersCountAgainstTheBound()
    {
        var cache = new PieceDictionaryCache(1 << 20);
        var footers = Enumerable.Range(1, 50).Select(i => Footer(i, indexValues: 1000)).ToList();
        long footerBytes = footers[0].EstimatedMemoryBytes;
        Assert.True(footerBytes > 100_000, $"a footer with 1000 index values of 100 bytes is estimated at {footerBytes} bytes");
        foreach (var f in footers) cache.GetOrLoad(f, 0, () => new byte[1024]);

        // 50 blocks of 1 KiB would fit; 50 footers of ~170 KB do not: the oldest go.
        var held = cache.Footers();
        Assert.True(held.Count <= (1 << 20) / footerBytes, $"{held.Count} footers held");
        Assert.Equal(held.Count * (1024 + footerBytes), cache.Bytes);
        Assert.Contains(footers[^1], held);
        Assert.DoesNotContain(footers[0], held);

        // Dropping a segment frees its blocks and its footer.
        var last = footers[^1];
        Assert.NotNull(cache.TryGet(last, 0));
        cache.Invalidate(last);
        Assert.Null(cache.TryGet(last, 0));
        Assert.DoesNotContain(last, cache.Footers());
        Assert.Equal(cache.Footers().Count * (1024 + footerBytes), cache.Bytes);

        // A second block of a held footer charges only the block.
        var fresh = new PieceDictionaryCache(1 << 20);
        var two = Footer(99, indexValues: 1000, blocks: 2);
        fresh.GetOrLoad(two, 0, () => new byte[1024]);
        Assert.Equal(1024 + two.EstimatedMemoryBytes, fresh.Bytes);
        fresh.GetOrLoad(two, 1, () => new byte[1024]);
        Assert.Equal(2048 + two.EstimatedMemoryBytes, fresh.Bytes);
        fresh.Invalidate(two);
        Assert.Equal(0, fresh.Bytes);
    }
}
