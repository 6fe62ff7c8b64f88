using System.Runtime.InteropServices;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// zstd decompression through the system's libzstd, when the process can load it (the read-side twin of
/// <see cref="NativeZstdCompressor"/>).
/// </summary>
/// <remarks>
/// Why: a full-table export decompresses every chunk it sends, and the managed port (ZstdSharp) was the largest
/// part of the engine's read CPU (docs/benchmarks.md, "Native zstd on the read path"). libzstd checks every
/// frame it is given and reports damage as an error code, never by reading or writing outside the two buffers
/// (it is fuzzed continuously for exactly that); <see cref="ChunkCompression"/> turns a failure into the same
/// corrupt-chunk report as the managed path. The library is absent on some systems (Windows) or ruled out by
/// TRAFFICSTORE_ZSTD=managed: then <see cref="IsAvailable"/> is false and the managed port is used.
/// One decompression context per thread (contexts are not thread-safe and cost ~100 KB to create), freed by its
/// finalizer when the thread's reference goes.
/// </remarks>
internal static unsafe class NativeZstdDecompressor
{
    /// <summary>ZSTD_CONTENTSIZE_UNKNOWN: the frame header does not state its size (streamed frames).</summary>
    private const ulong ContentSizeUnknown = unchecked((ulong)-1);

    private static readonly delegate* unmanaged<nint> s_createDCtx;
    private static readonly delegate* unmanaged<nint, nuint> s_freeDCtx;
    private static readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nuint> s_decompressDCtx;
    private static readonly delegate* unmanaged<byte*, nuint, ulong> s_getFrameContentSize;
    private static readonly delegate* unmanaged<nuint, uint> s_isError;

    [ThreadStatic] private static Context? t_context;

    static NativeZstdDecompressor()
    {
        if (!NativeZstdCompressor.TryLoadExports(
                ["ZSTD_createDCtx", "ZSTD_freeDCtx", "ZSTD_decompressDCtx", "ZSTD_getFrameContentSize", "ZSTD_isError"], out var f)) return;
        s_createDCtx = (delegate* unmanaged<nint>)f[0];
        s_freeDCtx = (delegate* unmanaged<nint, nuint>)f[1];
        s_decompressDCtx = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, nuint>)f[2];
        s_getFrameContentSize = (delegate* unmanaged<byte*, nuint, ulong>)f[3];
        s_isError = (delegate* unmanaged<nuint, uint>)f[4];
        IsAvailable = true;
    }

    /// <summary>True when libzstd was loaded (and TRAFFICSTORE_ZSTD is not "managed").</summary>
    public static bool IsAvailable { get; }

    /// <summary>
    /// Decompresses the zstd frame <paramref name="source"/> into exactly <paramref name="destination"/>. False when
    /// the frame is damaged, states another size, or decompresses to any other length.
    /// </summary>
    public static bool TryDecompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (!IsAvailable) throw new InvalidOperationException("libzstd is not loaded; check IsAvailable first.");
        var context = t_context ??= new Context();
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            // The header states the content size (both writers put it there): a mismatch is refused before any work.
            // Errors come back as values above any size (ZSTD_CONTENTSIZE_ERROR) and fail this check too.
            ulong stated = s_getFrameContentSize(src, (nuint)source.Length);
            if (stated != ContentSizeUnknown && stated != (ulong)destination.Length) return false;
            nuint written = s_decompressDCtx(context.Handle, dst, (nuint)destination.Length, src, (nuint)source.Length);
            return s_isError(written) == 0 && written == (nuint)destination.Length;
        }
    }

    private sealed class Context
    {
        public Context()
        {
            Handle = s_createDCtx();
            if (Handle == 0) throw new OutOfMemoryException("ZSTD_createDCtx returned null.");
        }

        public nint Handle { get; }

        ~Context() => s_freeDCtx(Handle);
    }
}
