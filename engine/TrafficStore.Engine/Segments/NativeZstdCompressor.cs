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
    /// <summary>Names tried in order.</summary>
    private static readonly string[] LibraryNames = ["libzstd.so.1", "libzstd.so", "libzstd.1.dylib", "libzstd.dylib", "libzstd"];

    /// <summary>TRAFFICSTORE_ZSTD=managed rules libzstd out for both directions (to compare, or to rule it out).</summary>
    internal static bool ManagedRequested => Environment.GetEnvironmentVariable("TRAFFICSTORE_ZSTD") == "managed";

    private static readonly delegate* unmanaged<nint> s_createCCtx;
    private static readonly delegate* unmanaged<nint, nuint> s_freeCCtx;
    private static readonly delegate* unmanaged<nint, byte*, nuint, byte*, nuint, int, nuint> s_compressCCtx;
    private static readonly delegate* unmanaged<nuint, uint> s_isError;

    [ThreadStatic] private static Context? t_context;

    static NativeZstdCompressor()
    {
        if (!TryLoadExports(["ZSTD_createCCtx", "ZSTD_freeCCtx", "ZSTD_compressCCtx", "ZSTD_isError"], out var f)) return;
        s_createCCtx = (delegate* unmanaged<nint>)f[0];
        s_freeCCtx = (delegate* unmanaged<nint, nuint>)f[1];
        s_compressCCtx = (delegate* unmanaged<nint, byte*, nuint, byte*, nuint, int, nuint>)f[2];
        s_isError = (delegate* unmanaged<nuint, uint>)f[3];
        IsAvailable = true;
    }

    /// <summary>
    /// The addresses of <paramref name="exports"/> in the first of <see cref="LibraryNames"/> that loads and has
    /// them all (the library stays loaded); false when none does or TRAFFICSTORE_ZSTD=managed. Shared with
    /// <see cref="NativeZstdDecompressor"/>.
    /// </summary>
    internal static bool TryLoadExports(string[] exports, out nint[] addresses)
    {
        addresses = new nint[exports.Length];
        if (ManagedRequested) return false;
        foreach (var name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, out var library)) continue;
            int found = 0;
            while (found < exports.Length && NativeLibrary.TryGetExport(library, exports[found], out addresses[found])) found++;
            if (found == exports.Length) return true;
            NativeLibrary.Free(library);
        }
        return false;
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
