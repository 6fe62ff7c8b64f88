using System.Buffers.Binary;
using System.Text;
using K4os.Compression.LZ4;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>Reads a segment by hand, following docs/storage-format.md, and checks the background tasks.</summary>
public class SegmentFormatTests
{
    [Fact]
    public async Task SegmentBytesFollowTheDocumentedLayout()
    {
        using var dir = new TempDir();
        var model = QueryTests.Model(1000, 50_000_000); // 50 s: one partition
        await using (var engine = TrafficStoreEngine.Open(Options(dir.Path) with { RowGroupRows = 300 }))
        {
            engine.RegisterTable(QueryTests.ConnSpec);
            await engine.AppendAsync("conns", QueryTests.ToBatch(model));
            await engine.FlushAsync();
        }
        var path = Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "segments", "conns", "20260101T000000Z"), "*.seg"));
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.Equal("TSSEG004", Encoding.ASCII.GetString(bytes, 0, 8));
        Assert.Equal("TSSEGEND", Encoding.ASCII.GetString(bytes, bytes.Length - 8, 8));
        var trailer = bytes.AsSpan(bytes.Length - 24);
        int stored = BinaryPrimitives.ReadInt32LittleEndian(trailer), raw = BinaryPrimitives.ReadInt32LittleEndian(trailer[4..]);
        Assert.Equal(4, BinaryPrimitives.ReadInt32LittleEndian(trailer[12..]));
        var footerBytes = bytes.AsSpan(bytes.Length - 24 - stored, stored);
        Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(trailer[8..]), Crc32C.Compute(footerBytes));
        var footerRaw = new byte[raw];
        Assert.Equal(raw, LZ4Codec.Decode(footerBytes, footerRaw));
        var footer = SegmentFooter.ReadFrom(footerRaw);
        Assert.Equal(1000, footer.RowCount);
        Assert.Equal([300, 300, 300, 100], footer.RowGroups.Select(g => g.RowCount));
        // Format 3: each row group names its partition (here all the segment's one).
        Assert.All(footer.RowGroups, g => Assert.Equal(Base, g.Partition));
        Assert.Equal([Base], footer.Partitions);
        Assert.Equal(model[0].Time, footer.MinTime);
        Assert.Equal(model[^1].Time, footer.MaxTime);
        // Chunks tile the data area: row group by row group, column by column, except that (format 4) plain byte
        // chunks of at least 2 KiB are held back and written after the others (here "path": no piece repeats in it,
        // so there is no dictionary and no chunk refers to one).
        Assert.Empty(footer.Dictionaries);
        var held = new HashSet<int> { footer.ColumnIndex("path") };
        var order = Enumerable.Range(0, footer.RowGroups.Length).SelectMany(g => Enumerable.Range(0, footer.Columns.Count).Select(c => (c, g)))
            .OrderBy(x => held.Contains(x.c) && footer.Chunks[x.c][x.g].RawLength >= 2048 ? 1 : 0).ToList();
        long expectedOffset = 8;
        foreach (var (c, g) in order)
            {
                var chunk = footer.Chunks[c][g];
                Assert.Equal(0, chunk.Dictionary);
                Assert.Equal(expectedOffset, chunk.Offset);
                Assert.Equal(chunk.Crc, Crc32C.Compute(bytes.AsSpan((int)chunk.Offset, chunk.StoredLength)));
                // Versions 2 and 3 write zstd frames, or raw bytes when they do not get smaller.
                var chunkBytes = bytes.AsSpan((int)chunk.Offset, chunk.StoredLength);
                if (chunk.Compression == 2)
                {
                    using var zstd = new ZstdSharp.Decompressor();
                    Assert.Equal(chunk.RawLength, zstd.Unwrap(chunkBytes).Length);
                }
                else Assert.Equal((0, chunk.RawLength), (chunk.Compression, chunk.StoredLength));
                expectedOffset += chunk.StoredLength;
            }
        Assert.Equal(bytes.Length - 24 - stored, expectedOffset);
        // Encodings where they pay: regular timestamps, low-cardinality strings.
        Assert.Equal(ChunkEncoding.DeltaOfDelta, footer.Chunks[footer.ColumnIndex("time")][0].Encoding);
        Assert.Equal(ChunkEncoding.Dictionary, footer.Chunks[footer.ColumnIndex("namespace")][0].Encoding);
        Assert.Equal(ChunkEncoding.BitPacked, footer.Chunks[footer.ColumnIndex("ok")][0].Encoding);
        var podZone = footer.Chunks[footer.ColumnIndex("pod")][1].Zone;
        Assert.Equal("pod-0", Encoding.UTF8.GetString(podZone.MinBytes!));
        Assert.Equal("pod-9", Encoding.UTF8.GetString(podZone.MaxBytes!));
        var index = footer.Index.Single(i => i.Column == "namespace");
        Assert.Equal(["ns0", "ns1", "ns2", "ns3"], index.Values.Select(v => Encoding.UTF8.GetString(v.Value)));
        Assert.All(index.Values, v => Assert.Equal([0, 1, 2, 3], v.RowGroups));
    }

    [Fact]
    public async Task BackgroundTaskSealsAndAppliesRetention()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with
        {
            FlushInterval = TimeSpan.FromMilliseconds(50),
            RetentionInterval = TimeSpan.FromMilliseconds(50),
        });
        engine.RegisterTable(QueryTests.ConnSpec);
        await engine.SetRetentionPolicyAsync(new Retention.RetentionPolicy { Global = new(MaxAge: TimeSpan.FromDays(1)) });
        // Rows from 2026-01-01 are older than a day: sealed, then deleted, with no explicit call.
        await engine.AppendAsync("conns", QueryTests.ToBatch(QueryTests.Model(100)));
        var deadline = DateTime.UtcNow.AddSeconds(60);   // a deadline, not a delay: polled until the rows are gone
        while (DateTime.UtcNow < deadline && engine.GetStats().RetentionDeletedRows < 100) await Task.Delay(20);
        var stats = engine.GetStats();
        Assert.True(stats.Flushes >= 1);
        Assert.Equal(100, stats.RetentionDeletedRows);
        Assert.Empty(await Rows(engine, new QuerySpec("conns")));
    }

    [Fact]
    public async Task QueriesSeeEachRowExactlyOnceWhileFlushesAndAppendsRun()
    {
        using var dir = new TempDir();
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { FlushInterval = TimeSpan.FromMilliseconds(10), RowGroupRows = 64 });
        engine.RegisterTable(QueryTests.ConnSpec);
        var model = QueryTests.Model(2000);
        var appends = Task.Run(async () =>
        {
            for (int i = 0; i < 100; i++) await engine.AppendAsync("conns", QueryTests.ToBatch(model.Skip(i * 20).Take(20).ToList()));
        });
        int lastCount = 0;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!appends.IsCompleted || lastCount < 2000)
        {
            Assert.True(DateTime.UtcNow < deadline, $"only {lastCount} of 2000 rows visible after 60 s");
            var rows = await Rows(engine, new QuerySpec("conns").Select("time"));
            var times = rows.Select(r => (long)r["time"]!).ToList();
            Assert.Equal(times.Count, times.Distinct().Count()); // never a row twice (sealed and unsealed at once)
            Assert.True(times.Count >= lastCount, "a query lost rows an earlier query saw");
            lastCount = times.Count;
            if (appends.IsFaulted) await appends;
        }
        Assert.Equal(2000, lastCount);
    }
}
