using K4os.Compression.LZ4;
using TrafficStore.Engine.Columns;
using ZstdSharp;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// Compresses a chunk's raw bytes for the segment file and back (docs/storage-format.md, "Chunk").
/// Writers use zstd (compression 2), through the system's libzstd when it loads (<see cref="NativeZstdCompressor"/>,
/// <see cref="NativeZstdDecompressor"/> for reading), else the managed port; LZ4 (compression 1) is still read, because version-1
/// segments hold it. A chunk that does not get smaller is stored raw (compression 0).
/// </summary>
/// <remarks>
/// Codec and level were chosen by measurement (docs/benchmarks.md, "Chunk codec"): on 1 MiB chunks of
/// frame bytes zstd level 3 stores text-heavy traffic in 0.24 of its size where LZ4 (fast) needs 0.43,
/// and already-compressed media in 0.70 where LZ4 needs 0.755, at 50–260 MB/s compression and
/// 0.8–1.5 GB/s decompression. Higher levels gain under 1 % and compress 3–10× slower.
/// Zstd contexts are not thread-safe and are costly to create, so each thread keeps one of each.
/// </remarks>
internal static class ChunkCompression
{
    public const byte None = ChunkInfo.Uncompressed;
    public const byte Lz4 = ChunkInfo.Lz4Block;
    public const byte Zstd = ChunkInfo.ZstdFrame;

    /// <summary>The zstd level used for every column kind (see the remarks for the measurement).</summary>
    public const int ZstdLevel = 3;

    [ThreadStatic] private static Compressor? t_compressor;
    [ThreadStatic] private static Decompressor? t_decompressor;

    /// <summary>An upper bound of <see cref="Compress"/>'s output for <paramref name="rawLength"/> bytes.</summary>
    public static int MaxStoredLength(int rawLength) => Math.Max(rawLength, Compressor.GetCompressBound(rawLength));

    /// <summary>
    /// Compresses <paramref name="raw"/> into <paramref name="destination"/> (at least
    /// <see cref="MaxStoredLength"/> bytes) and returns the compression byte; <paramref name="stored"/>
    /// is the chunk's stored bytes (a slice of <paramref name="destination"/>, or <paramref name="raw"/> itself).
    /// </summary>
    public static byte Compress(ColumnType type, ReadOnlySpan<byte> raw, Span<byte> destination, out ReadOnlySpan<byte> stored)
    {
        // One codec and level for every kind today (zstd 1 or 2 for binary columns: +10.5 % bytes on synthetic,
        // +0.1–1.3 % on mixed-large, no CPU gain measurable; docs/benchmarks.md "Native zstd").
        // The parameter keeps a choice per column kind in one place.
        _ = type;
        if (raw.Length > 0)
        {
            int written;
            if (NativeZstdCompressor.IsAvailable)
                written = NativeZstdCompressor.Compress(raw, destination, ZstdLevel);
            else
            {
                var compressor = t_compressor ??= new Compressor(ZstdLevel);
                written = compressor.Wrap(raw, destination);
            }
            if (written > 0 && written < raw.Length)
            {
                stored = destination[..written];
                return Zstd;
            }
        }
        stored = raw; // incompressible: keep it raw
        return None;
    }

    /// <summary>
    /// Decompresses a stored chunk into <paramref name="raw"/> (exactly its raw length). Returns false when the
    /// bytes do not decompress to that length or the compression byte is unknown (the caller reports corruption).
    /// </summary>
    public static bool TryDecompress(byte compression, ReadOnlySpan<byte> stored, Span<byte> raw)
    {
        switch (compression)
        {
            case None:
                if (stored.Length != raw.Length) return false;
                stored.CopyTo(raw);
                return true;
            case Lz4:
                return LZ4Codec.Decode(stored, raw) == raw.Length;
            case Zstd:
                return NativeZstdDecompressor.IsAvailable
                    ? NativeZstdDecompressor.TryDecompress(stored, raw)
                    : TryDecompressManaged(stored, raw);
            default:
                return false;
        }
    }

    /// <summary>A zstd frame through the managed port: the fallback when libzstd is not loaded (and the tests' reference).</summary>
    internal static bool TryDecompressManaged(ReadOnlySpan<byte> stored, Span<byte> raw)
    {
        try
        {
            var decompressor = t_decompressor ??= new Decompressor();
            return decompressor.Unwrap(stored, raw) == raw.Length;
        }
        catch (ZstdException)
        {
            return false; // damaged frame: reported by the caller as a corrupt chunk
        }
    }
}
