using System.Text;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Segments;
using static TrafficStore.Engine.Tests.TestData;

namespace TrafficStore.Engine.Tests;

/// <summary>Chunk codecs (docs/storage-format.md, "Chunk"): zstd written, LZ4 and raw still read, version-1 stores readable.</summary>
public class ChunkCompressionTests
{
    public static TheoryData<string> Inputs => ["empty", "text", "random", "zeros"];

    private static byte[] Input(string kind)
    {
        var random = new Random(5);
        return kind switch
        {
            "empty" => [],
            "text" => Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 4000).Select(i => $"GET /api/v1/items/{i % 97} HTTP/1.1\r\nHost: svc-{i % 7}\r\n\r\n"))),
            "random" => Enumerable.Range(0, 100_000).Select(_ => (byte)random.Next(256)).ToArray(),
            _ => new byte[70_000],
        };
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void CompressedChunkDecompressesToItsRawBytes(string kind)
    {
        var raw = Input(kind);
        var destination = new byte[ChunkCompression.MaxStoredLength(raw.Length)];
        byte compression = ChunkCompression.Compress(ColumnType.Binary, raw, destination, out var stored);
        var back = new byte[raw.Length];
        Assert.True(ChunkCompression.TryDecompress(compression, stored, back));
        Assert.Equal(raw, back);
        // Text and zeros shrink (zstd); random bytes and nothing at all are kept raw.
        Assert.Equal(kind is "text" or "zeros" ? ChunkCompression.Zstd : ChunkCompression.None, compression);
        if (compression == ChunkCompression.Zstd) Assert.True(stored.Length < raw.Length / 4, $"{stored.Length} of {raw.Length}");
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void NativeAndManagedZstdFramesBothDecompress(string kind)
    {
        // Whichever implementation wrote a chunk, the one decompressor reads it (libzstd is loaded when present).
        var raw = Input(kind);
        if (raw.Length == 0) return;
        var managed = new ZstdSharp.Compressor(ChunkCompression.ZstdLevel).Wrap(raw).ToArray();
        var back = new byte[raw.Length];
        Assert.True(ChunkCompression.TryDecompress(ChunkCompression.Zstd, managed, back));
        Assert.Equal(raw, back);
        if (!NativeZstdCompressor.IsAvailable) return;
        var native = new byte[ChunkCompression.MaxStoredLength(raw.Length)];
        int n = NativeZstdCompressor.Compress(raw, native, ChunkCompression.ZstdLevel);
        Assert.True(n > 0);
        Array.Clear(back);
        Assert.True(ChunkCompression.TryDecompress(ChunkCompression.Zstd, native.AsSpan(0, n), back));
        Assert.Equal(raw, back);
        // A destination too small is "not compressed" (0), never a partial frame.
        Assert.Equal(0, NativeZstdCompressor.Compress(raw, native.AsSpan(0, 8), ChunkCompression.ZstdLevel));
    }

    /// <summary>Frames as both writers make them: the inputs above plus a 1 MiB chunk of mixed text and noise.</summary>
    private static IEnumerable<(string Name, byte[] Raw, byte[] Frame)> Frames()
    {
        var random = new Random(17);
        var mixed = new byte[1 << 20];
        for (int at = 0; at < mixed.Length;)
        {
            int n = Math.Min(mixed.Length - at, random.Next(100, 5000));
            if (random.Next(2) == 0) random.NextBytes(mixed.AsSpan(at, n));
            else Encoding.ASCII.GetBytes(new string((char)('a' + random.Next(26)), n)).CopyTo(mixed, at);
            at += n;
        }
        foreach (var (name, raw) in new[] { ("text", Input("text")), ("random", Input("random")), ("zeros", Input("zeros")), ("mixed", mixed), ("one byte", new byte[] { 42 }) })
        {
            yield return (name + ", managed writer", raw, new ZstdSharp.Compressor(ChunkCompression.ZstdLevel).Wrap(raw).ToArray());
            if (!NativeZstdCompressor.IsAvailable) continue;
            var native = new byte[ChunkCompression.MaxStoredLength(raw.Length) + 64];
            int written = NativeZstdCompressor.Compress(raw, native, ChunkCompression.ZstdLevel);
            Assert.True(written > 0, name);
            yield return (name + ", native writer", raw, native[..written]);
        }
    }

    [Fact]
    public void NativeAndManagedDecompressorsDecodeTheSameFrames()
    {
        foreach (var (name, raw, frame) in Frames())
        {
            var managed = new byte[raw.Length];
            Assert.True(ChunkCompression.TryDecompressManaged(frame, managed), name);
            Assert.Equal(raw, managed);
            // The engine's path: libzstd when it loaded (it does on Linux CI), else the managed port again.
            var engine = new byte[raw.Length];
            Assert.True(ChunkCompression.TryDecompress(ChunkCompression.Zstd, frame, engine), name);
            Assert.Equal(raw, engine);
            if (!NativeZstdDecompressor.IsAvailable) continue;
            var native = new byte[raw.Length];
            Assert.True(NativeZstdDecompressor.TryDecompress(frame, native), name);
            Assert.Equal(raw, native);
            // A destination of another length than the frame states is refused, shorter or longer.
            Assert.False(NativeZstdDecompressor.TryDecompress(frame, new byte[raw.Length - 1]), name);
            Assert.False(NativeZstdDecompressor.TryDecompress(frame, new byte[raw.Length + 1]), name);
        }
    }

    [Fact]
    public void DamagedFramesAreRefusedByBothDecompressorsWithoutThrowing()
    {
        // Truncations, bit flips, overwritten runs and garbage: each decompressor answers false (or, without a frame
        // checksum, bytes that are not the original, which the chunk's CRC rules out first in a segment) and never throws.
        var random = new Random(23);
        int refusedNative = 0, refusedManaged = 0, trials = 0;
        foreach (var (name, raw, frame) in Frames())
        {
            for (int k = 0; k < 40; k++)
            {
                var damaged = (k % 4) switch
                {
                    0 => frame[..random.Next(0, frame.Length)],                         // truncated
                    1 => Flip(frame, random, 1),                                        // one byte
                    2 => Flip(frame, random, 1 + random.Next(32)),                      // several bytes
                    _ => Enumerable.Range(0, random.Next(1, 300)).Select(_ => (byte)random.Next(256)).ToArray(), // garbage
                };
                trials++;
                var back = new byte[raw.Length];
                if (!ChunkCompression.TryDecompressManaged(damaged, back)) refusedManaged++;
                else if (k % 4 == 0) Assert.Fail($"{name}: a truncated frame decompressed (managed)");
                if (!NativeZstdDecompressor.IsAvailable) continue;
                Array.Clear(back);
                if (!NativeZstdDecompressor.TryDecompress(damaged, back)) refusedNative++;
                else if (k % 4 == 0) Assert.Fail($"{name}: a truncated frame decompressed (native)");
            }
        }
        Assert.True(refusedManaged > trials / 2, $"managed refused {refusedManaged} of {trials}");
        if (NativeZstdDecompressor.IsAvailable) Assert.True(refusedNative > trials / 2, $"native refused {refusedNative} of {trials}");
    }

    private static byte[] Flip(byte[] frame, Random random, int count)
    {
        var copy = frame.ToArray();
        for (int i = 0; i < count; i++) copy[random.Next(copy.Length)] ^= (byte)random.Next(1, 256);
        return copy;
    }

    [Fact]
    public void Lz4ChunksOfVersionOneStillDecompress()
    {
        var raw = Input("text");
        var lz4 = new byte[K4os.Compression.LZ4.LZ4Codec.MaximumOutputSize(raw.Length)];
        int n = K4os.Compression.LZ4.LZ4Codec.Encode(raw, lz4, K4os.Compression.LZ4.LZ4Level.L00_FAST);
        var back = new byte[raw.Length];
        Assert.True(ChunkCompression.TryDecompress(ChunkCompression.Lz4, lz4.AsSpan(0, n), back));
        Assert.Equal(raw, back);
    }

    [Fact]
    public void DamagedOrUnknownChunksAreRefusedNotMisread()
    {
        var raw = Input("text");
        var destination = new byte[ChunkCompression.MaxStoredLength(raw.Length)];
        Assert.Equal(ChunkCompression.Zstd, ChunkCompression.Compress(ColumnType.Utf8, raw, destination, out var stored));
        var damaged = stored.ToArray();
        damaged[damaged.Length / 2] ^= 0x5A;
        damaged[^3] ^= 0xFF; // zstd's frame checksum is off by default: also break the block structure near the end
        var back = new byte[raw.Length];
        bool ok = ChunkCompression.TryDecompress(ChunkCompression.Zstd, damaged, back);
        Assert.True(!ok || !back.AsSpan().SequenceEqual(raw)); // never reported as the original (the CRC catches it first in a segment)
        Assert.False(ChunkCompression.TryDecompress(ChunkCompression.Zstd, stored, new byte[raw.Length - 1]));
        Assert.False(ChunkCompression.TryDecompress(9, stored, back));
    }

    /// <summary>
    /// Fixtures/v1-store was written by the format-version-1 build (commit 6420562, before zstd) from
    /// <see cref="QueryTests.Model"/>(1000 rows, 50 ms apart) with 300-row row groups; this build must read it.
    /// </summary>
    [Fact]
    public async Task VersionOneStoreIsStillRead()
    {
        using var dir = new TempDir();
        CopyFixtureStore("v1-store", dir.Path);
        var segment = Assert.Single(Directory.GetFiles(Path.Combine(dir.Path, "segments"), "*.seg", SearchOption.AllDirectories));
        Assert.Equal("TSSEG001", SegmentMagic(segment));
        var footer = SegmentReader.ReadFooter(segment);
        Assert.Contains(footer.Chunks.SelectMany(c => c), c => c.Compression == ChunkCompression.Lz4);

        var model = QueryTests.Model(1000, 50_000_000);
        await using var engine = TrafficStoreEngine.Open(Options(dir.Path) with { VerifyChunksOnOpen = true });
        engine.RegisterTable(QueryTests.ConnSpec);
        Assert.Empty(engine.Health.Quarantined);
        await AssertConnsHoldExactly(engine, model);
        // An indexed query reads through the footer index of the old segment too.
        var pod = await Rows(engine, new QuerySpec("conns") { Filters = [ColumnFilter.Eq("pod", "pod-3")] });
        Assert.Equal(model.Count(r => r.Pod == "pod-3"), pod.Count);
    }
}
