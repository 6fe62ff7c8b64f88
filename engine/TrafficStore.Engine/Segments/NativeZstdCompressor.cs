using System.Runtime.InteropServices;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// zstd compression through the system's libzstd (the reference C library), when the process can load it.
/// </summary>
/// <remarks>
/// Why: the managed port (ZstdSharp) was the largest single item of bulk-load ingest CPU (about 1.3 s of
/// ~3.5 s per round of synthetic-350mb, docs/benchmarks.md "Native zstd"); libzstd produces the same
/// format and is read back by either decompressor (a zstd frame is a zstd frame, whichever
/// implementation wrote it; reading goes through <see cref="NativeZstdDecompressor"/> when it loads). When the library is absent (it ships with nearly every Linux distribution,
/// not with Windows), <see cref="IsAvailable"/> is false and <see cref="ChunkCompression"/> uses ZstdSharp.
/// One compression context per thread, freed by its finalizer when the thread's reference goes.
/// </remarks>
internal static unsafe class NativeZstdCompressor
{
    /// <summary>Names tried in order, also by <see cref="NativeZstdDecompressor"/>.</summary>
    internal static readonly string[] LibraryNames = ["libzstd.so.1", "libzstd.so", "libzstd.1.dylib", "libzstd.dylib", "libzstd"];

    /// <summary>TRAFFICSTORE_ZSTD=managed rules libzstd out for both directions (to compare, or to rule it out).</summary>
    internal static bool ManagedRequested => Environment.GetEnvironmentVariable("TRAFFICSTORE_ZSTD") == "managed";

    private static readonly delegate* unmanaged<nint> s_createCCtx;
    private static readonly delegate* unmanaged<nint, nuint> s_freeCCtx;
    private static readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, int, nuint> s_compressCCtx;
    private static readonly delegate* unmanaged<nuint, uint> s_isError;

    [ThreadStatic] private static Context? t_context;

    static NativeZstdCompressor()
    {
        if (ManagedRequested) return;
        foreach (var name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, out var library)) continue;
            if (NativeLibrary.TryGetExport(library, "ZSTD_createCCtx", out var create)
                && NativeLibrary.TryGetExport(library, "ZSTD_freeCCtx", out var free)
                && NativeLibrary.TryGetExport(library, "ZSTD_compressCCtx", out var compress)
                && NativeLibrary.TryGetExport(library, "ZSTD_isError", out var isError))
            {
                s_createCCtx = (delegate* unmanaged<nint>)create;
                s_freeCCtx = (delegate* unmanaged<nint, nuint>)free;
                s_compressCCtx = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, int, nuint>)compress;
                s_isError = (delegate* unmanaged<nuint, uint>)isError;
                IsAvailable = true;
                return;
            }
            NativeLibrary.Free(library);
        }
    }

    /// <summary>True when libzstd was loaded (and TRAFFICSTORE_ZSTD is not "managed").</summary>
    public static bool IsAvailable { get; }

    /// <summary>
    /// Compresses <paramref name="source"/> into one zstd frame at <paramref name="level"/>. Returns the bytes
    /// written, or 0 when <paramref name="destination"/> is too small (the caller stores the chunk raw).
    /// </summary>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int level)
    {
        if (!IsAvailable) throw new InvalidOperationException("libzstd is not loaded; check IsAvailable first.");
        var context = t_context ??= new Context();
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            nuint written = s_compressCCtx(context.Handle, dst, (nuint)destination.Length, src, (nuint)source.Length, level);
            return s_isError(written) != 0 ? 0 : checked((int)written);
        }
    }

    private sealed class Context
    {
        public Context()
        {
            Handle = s_createCCtx();
            if (Handle == 0) throw new OutOfMemoryException("ZSTD_createCCtx returned null.");
        }

        public nint Handle { get; }

        ~Context() => s_freeCCtx(Handle);
    }
}
