using Apache.Arrow;
using Apache.Arrow.Types;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>Format 4: repeated content-defined pieces of a segment's byte chunks stored once (docs/storage-format.md, "Piece dictionary").</summary>
public class PieceDictionaryTests
{
    private static readonly Schema BlobSchema = Schema(("time", Ts), ("connection_id", Int64Type.Default), ("body", BinaryType.Default));

    private static TableSpec BlobSpec => new("blobs", BlobSchema, "time") { IndexedColumns = ["connection_id"] };

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// 400 rows in one partition: every other body is one of three 64 KiB "assets" served again and again, the others
    /// are fresh random bytes (nothing to share); row groups of at most 50 rows and 1 MiB, so an asset's repeats sit in
    /// many chunks.
    /// </summary>
    private static List<(long Time, long Connection, byte[] Body)> BlobModel()
    {
        var random = new Random(7);
        var assets = Enumerable.Range(0, 3).Select(_ => RandomBytes(random, 64 * 1024)).ToArray();
        return Enumerable.Range(0, 400).Select(i =>
            (Base + i * 100_000_000L, (long)(i % 40), i % 2 == 0 ? assets[i % 3] : RandomBytes(random, 3000 + i))).ToList();
    }

    private static async Task<long> WriteBlobs(string dir, bool pieceDictionaries)
    {
        var model = BlobModel();
        await using var engine = TrafficStoreEngine.Open(Options(dir) with { RowGroupRows = 50, PieceDictionaries = pieceDictionaries });
        engine.RegisterTable(BlobSpec);
        await engine.AppendAsync("blobs", Batch(BlobSchema,
            Timestamps(model.Select(m => (long?)m.Time).ToArray()),
            Int64(model.Select(m => (long?)m.Connection).ToArray()),
            Binaries(model.Select(m => m.Body).ToArray())));
        await engine.FlushAsync();
        return SegmentFiles(dir).Sum(f => new FileInfo(f).Length);
    }

    private static string[] SegmentFiles(string dir) =>
        Directory.GetFiles(Path.Combine(dir, "segments", "blobs"), "*.seg", SearchOption.AllDirectories);

    [Fact]
    public async Task RepeatedBodiesAreStoredOnceAndReadBackExactly()
    {
        using var with = new TempDir();
        using var without = new TempDir();
        long withBytes = await WriteBlobs(with.Path, pieceDictionaries: true);
        long withoutBytes = await WriteBlobs(without.Path, pieceDictionaries: false);
        // 200 asset rows of 64 KiB (12.5 MiB, three distinct assets) plus 200 unique bodies (~0.6 MiB of random bytes):
        // without a dictionary every chunk stores each of its assets again (zstd sees repeats only within a chunk).
        var model = BlobModel();
        long unique = model.Where((_, i) => i % 2 == 1).Sum(m => (long)m.Body.Length);
        Assert.True(withoutBytes > unique + 20 * 64 * 1024, $"without: {withoutBytes}, unique bodies {unique}");
        Assert.True(withBytes * 2 < withoutBytes, $"with: {withBytes}, without: {withoutBytes}");

        var footer = SegmentReader.ReadFooter(Assert.Single(SegmentFiles(with.Path)));
        // The three assets (192 KiB) less the edges of the first piece: one or two blocks.
        Assert.InRange(footer.Dictionaries.Sum(d => d.RawLength), 100 * 1024, 3 * 64 * 1024);
        int body = footer.ColumnIndex("body");
        Assert.All(footer.Chunks[body], c => Assert.Equal(1, c.Dictionary));
        Assert.All(footer.Chunks[footer.ColumnIndex("time")], c => Assert.Equal(0, c.Dictionary));
        Assert.Empty(SegmentReader.ReadFooter(Assert.Single(SegmentFiles(without.Path))).Dictionaries);

        await using var engine = TrafficStoreEngine.Open(Options(with.Path) with { VerifyChunksOnOpen = true });
        engine.RegisterTable(BlobSpec);
        Assert.Empty(engine.Health.Quarantined);
        var rows = await Rows(engine, new QuerySpec("blobs") { OrderByTime = true });
        Assert.Equal(model.Select(m => Convert.ToHexString(m.Body)), rows.Select(r => (string)r["body"]!));
        // An indexed read of one connection decodes only its row groups' chunks, each against the dictionary.
        var one = await Rows(engine, new QuerySpec("blobs") { Filters = [ColumnFilter.Eq("connection_id", 6L)], OrderByTime = true });
        Assert.Equal(model.Where(m => m.Connection == 6).Select(m => Convert.ToHexString(m.Body)), one.Select(r => (string)r["body"]!));
    }

    [Fact]
    public async Task DamagedDictionaryQuarantinesTheSegment()
    {
        using var dir = new TempDir();
        await WriteBlobs(dir.Path, pieceDictionaries: true);
        var path = Assert.Single(SegmentFiles(dir.Path));
        var dictionary = SegmentReader.ReadFooter(path).Dictionaries[0];
        using (var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = dictionary.Offset + dictionary.StoredLength / 2;
            int b = f.ReadByte();
            f.Position = dictionary.Offset + dictionary.StoredLength / 2;
            f.WriteByte((byte)(b ^ 0x5A));
        }

        await using var engine = TrafficStoreEngine.Open(Options(dir.Path));
        engine.RegisterTable(BlobSpec);
        var diag = new QueryDiagnostics();
        var rows = await Rows(engine, new QuerySpec("blobs"), diag);
        Assert.Empty(rows);
        Assert.Equal(QueryWarning.CorruptSegment, Assert.Single(diag.Warnings).Kind);
        var quarantined = Assert.Single(engine.Health.Quarantined);
        Assert.Contains("piece dictionary", quarantined.Reason);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task VerifyChunksOnOpenChecksDictionaries()
    {
        using var dir = new TempDir();
        await WriteBlobs(dir.Path, pieceDictionaries: true);
        var path = Assert.Single(SegmentFiles(dir.Path));
        var dictionary = SegmentReader.ReadFooter(path).Dictionaries[^1];
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[dictionary.Offset + 1] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { VerifyChunksOnOpen = true });
        Assert.Single(engine.Health.Quarantined);
    }

    [Fact]
    public void ContentDefinedCutsFollowTheContentNotTheOffset()
    {
        var random = new Random(3);
        var content = RandomBytes(random, 400 * 1024);
        var shifted = RandomBytes(random, 777).Concat(content).ToArray();
        var a = Pieces(content);
        var b = Pieces(shifted);
        Assert.All(a.Concat(b), p => Assert.InRange(p.Length, 1, ContentDefinedPieces.MaxPiece));
        Assert.All(a.SkipLast(1), p => Assert.True(p.Length >= ContentDefinedPieces.MinPiece));
        // After the first cut or two the shifted copy is cut at the same content: the same pieces follow.
        var common = a.Select(Convert.ToHexString).Intersect(b.Select(Convert.ToHexString)).Count();
        Assert.True(common >= a.Count - 3, $"{common} of {a.Count} pieces in common");
        Assert.True(a.Count >= 20, $"{a.Count} pieces of 400 KiB");
    }

    private static List<byte[]> Pieces(byte[] data)
    {
        var pieces = new List<byte[]>();
        for (int at = 0; at < data.Length;)
        {
            int length = ContentDefinedPieces.NextPieceLength(data.AsSpan(at));
            pieces.Add(data.AsSpan(at, length).ToArray());
            at += length;
        }
        return pieces;
    }

    [Fact]
    public void ChunksExpandToTheirBytesAndDamageIsReportedNotThrown()
    {
        var random = new Random(5);
        var asset = RandomBytes(random, 40 * 1024);
        var chunks = new[]
        {
            RandomBytes(random, 5000).Concat(asset).Concat(RandomBytes(random, 100)).ToArray(),
            asset.Concat(asset).ToArray(),
            RandomBytes(random, 30 * 1024), // nothing repeated
        };
        var pieces = new RepeatedPieces(1 << 20);
        var ids = chunks.Select(c => pieces.Add(c, c.Length)).ToArray();
        var dictionary = pieces.CloseWindow().ToArray();
        // The asset's pieces once: those after its first cut (the piece before that starts in the bytes ahead of it).
        Assert.InRange(dictionary.Length, 8 * 1024, 40 * 1024);
        var sink = new ByteSink(1024);
        Assert.False(pieces.Encode(ids[2], sink));
        for (int i = 0; i < 2; i++)
        {
            Assert.True(pieces.Encode(ids[i], sink));
            var encoded = sink.ToArray();
            Assert.True(encoded.Length < chunks[i].Length - 8 * 1024);
            var raw = new byte[chunks[i].Length];
            Assert.True(PieceReferences.TryExpand(encoded, new ArrayPieceSource(dictionary), raw));
            Assert.Equal(chunks[i], raw);
            // Wrong length, truncated references, a dictionary too short: false, never an exception.
            Assert.False(PieceReferences.TryExpand(encoded, new ArrayPieceSource(dictionary), new byte[raw.Length + 1]));
            Assert.False(PieceReferences.TryExpand(encoded.AsSpan(0, 3), new ArrayPieceSource(dictionary), raw));
            Assert.False(PieceReferences.TryExpand(encoded, new ArrayPieceSource(dictionary[..(dictionary.Length / 2)]), raw));
        }
    }

    [Fact]
    public void LaterWindowsReferToPiecesStoredByEarlierOnes()
    {
        var random = new Random(9);
        var asset = RandomBytes(random, 48 * 1024);
        var pieces = new RepeatedPieces(1 << 20);
        // Window 1: the asset twice (as a large value: forced cuts at its edges) → stored once.
        var first = RandomBytes(random, 1000).Concat(asset).Concat(asset).ToArray();
        int a = pieces.Add(first, first.Length, [1000, 1000 + asset.Length, 1000 + 2 * asset.Length]);
        // The asset's pieces, cut from its first byte: all of it but a last piece shorter than 1 KiB, if it ends with one.
        var stored = pieces.CloseWindow().ToArray();
        Assert.InRange(stored.Length, asset.Length - 1024, asset.Length);
        Assert.Equal(asset[..stored.Length], stored);
        var sink = new ByteSink(1024);
        Assert.True(pieces.Encode(a, sink));
        var firstEncoded = sink.ToArray();
        pieces.EndWindow();
        // Window 2: the asset once, with other bytes around it: nothing new is stored, and the chunk still refers to it.
        var second = RandomBytes(random, 3000).Concat(asset).Concat(RandomBytes(random, 500)).ToArray();
        int b = pieces.Add(second, second.Length, [3000, 3000 + asset.Length]);
        Assert.True(pieces.CloseWindow().IsEmpty);
        Assert.True(pieces.Encode(b, sink));
        Assert.True(sink.Length < 3500 + 1024 + 16);
        var dictionary = new ArrayPieceSource(stored);
        var raw = new byte[second.Length];
        Assert.True(PieceReferences.TryExpand(sink.WrittenSpan, dictionary, raw));
        Assert.Equal(second, raw);
        raw = new byte[first.Length];
        Assert.True(PieceReferences.TryExpand(firstEncoded, dictionary, raw));
        Assert.Equal(first, raw);
    }

    /// <summary>
    /// Fixtures/v3-store was written by the format-version-3 build (main at aac6ebe) from <see cref="QueryTests.Model"/>(1000
    /// rows, 50 ms apart: one partition) with 300-row row groups; this build reads it (no dictionaries, chunks in
    /// row group order) and writes format 4 beside it.
    /// </summary>
    [Fact]
    public async Task VersionThreeStoreIsStillRead()
    {
        using var dir = new TempDir();
        CopyFixtureStore("v3-store", dir.Path);
        var segment = Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "segments"), "*.seg", SearchOption.AllDirectories));
        Assert.Equal("TSSEG003", SegmentMagic(segment));
        var footer = SegmentReader.ReadFooter(segment);
        Assert.Empty(footer.Dictionaries);
        Assert.All(footer.Chunks.SelectMany(c => c), c => Assert.Equal(0, c.Dictionary));

        var model = QueryTests.Model(1000, 50_000_000);
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { VerifyChunksOnOpen = true });
        engine.RegisterTable(QueryTests.ConnSpec);
        Assert.Empty(engine.Health.Quarantined);
        await AssertConnsHoldExactly(engine, model);
        Assert.Equal(model.Count(r => r.Pod == "pod-3"), (await Rows(engine, new QuerySpec("conns") { Filters = [ColumnFilter.Eq("pod", "pod-3")] })).Count);

        var later = QueryTests.Model(100, 50_000_000).Select(r => r with { Time = r.Time + 10 * Minute, End = r.End + 10 * Minute }).ToList();
        await engine.AppendAsync("conns", QueryTests.ToBatch(later));
        await engine.FlushAsync();
        var newest = Directory.GetFiles(Path.Combine(dir.Path, "segments"), "*.seg", SearchOption.AllDirectories).Single(f => f != segment);
        Assert.Equal("TSSEG004", SegmentMagic(newest));
        Assert.Equal(1100, (await Rows(engine, new QuerySpec("conns"))).Count);
    }
}
