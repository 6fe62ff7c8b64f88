using System.Buffers;
using K4os.Compression.LZ4;
using Microsoft.Win32.SafeHandles;
using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// Reads a sealed segment: the footer (validated by trailer magic, lengths and CRC) and single
/// column chunks (validated by their CRC). Every failure is a <see cref="SegmentCorruptException"/>.
/// </summary>
internal sealed class SegmentReader : IDisposable
{
    private readonly SafeFileHandle _handle;

    private SegmentReader(string path, SafeFileHandle handle, SegmentFooter footer, bool cacheDictionary)
    {
        Path = path;
        _handle = handle;
        Footer = footer;
        _cacheDictionary = cacheDictionary;
    }

    /// <summary>Whether dictionary blocks this reader loads go into <see cref="PieceDictionaryCache.Shared"/> (else they live as long as the reader).</summary>
    private readonly bool _cacheDictionary;

    public string Path { get; }
    public SegmentFooter Footer { get; }

    /// <summary>
    /// Opens a segment and validates its footer. Throws <see cref="FileNotFoundException"/> if it is gone (deleted by retention).
    /// The footer is a new object nobody else holds, so dictionary blocks this reader loads are not cached (they would be
    /// cached under a key no later reader asks for).
    /// </summary>
    public static SegmentReader Open(string path)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            return new SegmentReader(path, handle, ReadFooter(path, handle), cacheDictionary: false);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a segment whose footer was already read and validated (when it was sealed or when the store opened):
    /// a query then touches only the chunks it needs. Chunks are still checked by their CRC on every read.
    /// Throws <see cref="FileNotFoundException"/> if it is gone (deleted by retention). <paramref name="cacheDictionary"/>:
    /// whether piece-dictionary blocks it loads go into <see cref="PieceDictionaryCache.Shared"/> (queries); a one-pass
    /// reader (retention reading a segment it is about to replace or delete) uses cached blocks but adds none.
    /// </summary>
    public static SegmentReader Open(string path, SegmentFooter footer, bool cacheDictionary = true)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new SegmentReader(path, handle, footer, cacheDictionary);
    }

    public static SegmentFooter ReadFooter(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return ReadFooter(path, handle);
    }

    private static SegmentFooter ReadFooter(string path, SafeFileHandle handle)
    {
        long length = RandomAccess.GetLength(handle);
        if (length < SegmentWriter.HeaderMagic.Length + SegmentWriter.TrailerLength)
            throw new SegmentCorruptException(path, $"file too short ({length} bytes)");
        Span<byte> header = stackalloc byte[8];
        RandomAccess.Read(handle, header, 0);
        if (!header.SequenceEqual(SegmentWriter.HeaderMagic) && !header.SequenceEqual(SegmentWriter.HeaderMagicV3) && !header.SequenceEqual(SegmentWriter.HeaderMagicV2) && !header.SequenceEqual(SegmentWriter.HeaderMagicV1)) throw new SegmentCorruptException(path, "bad header magic");

        var trailerBytes = new byte[SegmentWriter.TrailerLength];
        RandomAccess.Read(handle, trailerBytes, length - SegmentWriter.TrailerLength);
        var trailer = new ByteSource(trailerBytes);
        int storedLength = trailer.ReadInt32();
        int rawLength = trailer.ReadInt32();
        uint crc = trailer.ReadUInt32();
        int version = trailer.ReadInt32();
        if (!trailer.ReadBytes(8).SequenceEqual(SegmentWriter.TrailerMagic)) throw new SegmentCorruptException(path, "bad trailer magic");
        if (!SegmentFooter.IsReadable(version)) throw new SegmentCorruptException(path, $"unsupported format version {version}");
        long footerStart = length - SegmentWriter.TrailerLength - storedLength;
        if (storedLength <= 0 || rawLength <= 0 || rawLength > 1 << 30 || footerStart < SegmentWriter.HeaderMagic.Length)
            throw new SegmentCorruptException(path, "footer length out of range");
        var stored = new byte[storedLength];
        RandomAccess.Read(handle, stored, footerStart);
        if (Crc32C.Compute(stored) != crc) throw new SegmentCorruptException(path, "footer checksum mismatch");
        var raw = new byte[rawLength];
        if (LZ4Codec.Decode(stored, raw) != rawLength) throw new SegmentCorruptException(path, "footer does not decompress");
        try
        {
            var footer = SegmentFooter.ReadFrom(raw);
            foreach (var column in footer.Chunks)
                foreach (var chunk in column)
                    if (chunk.Offset < 8 || chunk.Offset + chunk.StoredLength > footerStart)
                        throw new InvalidDataException("chunk outside the data area");
            foreach (var d in footer.Dictionaries)
                if (d.Offset < 8 || d.Offset + d.StoredLength > footerStart)
                    throw new InvalidDataException("dictionary outside the data area");
            return footer;
        }
        catch (InvalidDataException e)
        {
            throw new SegmentCorruptException(path, "footer does not parse: " + e.Message, e);
        }
    }

    /// <summary>Reads and decodes the chunk of <paramref name="column"/> in <paramref name="rowGroup"/>.</summary>
    /// <remarks>
    /// Plain byte columns (frames, bodies: most of the bytes a query reads) are decompressed into a fresh,
    /// uninitialized array that the returned vector keeps as its value bytes (<see cref="ColumnCodec.KeepsRaw"/>):
    /// one write of each value byte, no copy out of a scratch buffer and no zeroing. Other columns decompress into
    /// pooled buffers that <see cref="ColumnCodec.Decode"/> reads and that never escape. A chunk that refers to a piece
    /// dictionary (format 4) decompresses into pooled scratch and expands from there into the raw array.
    /// </remarks>
    public ColumnVector ReadChunk(int column, int rowGroup)
    {
        var chunk = Footer.Chunks[column][rowGroup];
        var type = Footer.Columns[column].Type;
        bool keepRaw = ColumnCodec.KeepsRaw(type, chunk.Encoding);
        bool compressed = chunk.Compression != ChunkInfo.Uncompressed;
        bool refers = chunk.Dictionary != 0;
        // The stored bytes are scratch unless they are the raw bytes the vector keeps (an uncompressed plain byte chunk).
        bool storedIsRaw = keepRaw && !compressed && !refers;
        byte[] storedBuffer = storedIsRaw ? GC.AllocateUninitializedArray<byte>(chunk.StoredLength) : ArrayPool<byte>.Shared.Rent(chunk.StoredLength);
        byte[]? rawBuffer = null, referencingBuffer = null;
        bool rawPooled = false;
        try
        {
            var stored = storedBuffer.AsSpan(0, chunk.StoredLength);
            int read = RandomAccess.Read(_handle, stored, chunk.Offset);
            if (read != stored.Length) throw new SegmentCorruptException(Path, "chunk truncated");
            if (Crc32C.Compute(stored) != chunk.Crc) throw new SegmentCorruptException(Path, $"checksum mismatch in column '{Footer.Columns[column].Name}' row group {rowGroup}");
            ReadOnlySpan<byte> raw;
            byte[] rawOwner;
            if (!compressed && !refers)
            {
                rawOwner = storedBuffer;
                raw = stored;
            }
            else
            {
                if (keepRaw) rawBuffer = GC.AllocateUninitializedArray<byte>(chunk.RawLength);
                else
                {
                    rawBuffer = ArrayPool<byte>.Shared.Rent(chunk.RawLength);
                    rawPooled = true;
                }
                var rawSpan = rawBuffer.AsSpan(0, chunk.RawLength);
                if (refers)
                {
                    var dictionary = _dictionary ??= new DictionaryBlocks(this);
                    ReadOnlySpan<byte> referencing = stored;
                    if (compressed)
                    {
                        referencingBuffer = ArrayPool<byte>.Shared.Rent(chunk.ReferencingLength);
                        if (!ChunkCompression.TryDecompress(chunk.Compression, stored, referencingBuffer.AsSpan(0, chunk.ReferencingLength)))
                            throw new SegmentCorruptException(Path, "chunk does not decompress");
                        referencing = referencingBuffer.AsSpan(0, chunk.ReferencingLength);
                    }
                    else if (chunk.StoredLength != chunk.ReferencingLength) throw new SegmentCorruptException(Path, "chunk length mismatch");
                    if (!PieceReferences.TryExpand(referencing, dictionary, rawSpan))
                        throw new SegmentCorruptException(Path, $"chunk of column '{Footer.Columns[column].Name}' row group {rowGroup} does not expand from its piece dictionary");
                }
                else if (!ChunkCompression.TryDecompress(chunk.Compression, stored, rawSpan))
                    throw new SegmentCorruptException(Path, "chunk does not decompress");
                rawOwner = rawBuffer;
                raw = rawSpan;
            }
            try
            {
                return ColumnCodec.Decode(type, chunk.Encoding, Footer.RowGroups[rowGroup].RowCount, chunk.NullCount, raw, keepRaw ? rawOwner : null);
            }
            catch (InvalidDataException e)
            {
                throw new SegmentCorruptException(Path, "chunk does not decode: " + e.Message, e);
            }
        }
        finally
        {
            if (!storedIsRaw) ArrayPool<byte>.Shared.Return(storedBuffer);
            if (rawPooled) ArrayPool<byte>.Shared.Return(rawBuffer!);
            if (referencingBuffer is not null) ArrayPool<byte>.Shared.Return(referencingBuffer);
        }
    }

    private DictionaryBlocks? _dictionary;

    /// <summary>
    /// The segment's piece dictionary as a reader sees it: block by block, each loaded (and its CRC checked) when a
    /// reference first touches it and kept in <see cref="PieceDictionaryCache"/> (or, for a reader that does not cache,
    /// in this object while the reader lives: at most <see cref="SegmentWriter.MaxDictionaryBytes"/>).
    /// </summary>
    private sealed class DictionaryBlocks : IPieceSource
    {
        private readonly SegmentReader _reader;
        private readonly long[] _starts; // raw offset of each block in the dictionary, then the total
        private byte[]?[]? _own;         // blocks loaded by a reader that does not cache

        public DictionaryBlocks(SegmentReader reader)
        {
            _reader = reader;
            var blocks = reader.Footer.Dictionaries;
            _starts = new long[blocks.Length + 1];
            for (int b = 0; b < blocks.Length; b++) _starts[b + 1] = _starts[b] + blocks[b].RawLength;
        }

        public long Length => _starts[^1];

        public void CopyTo(long offset, Span<byte> destination)
        {
            while (destination.Length > 0)
            {
                int b = Array.BinarySearch(_starts, offset);
                if (b < 0) b = ~b - 1; // the block whose start is the last one at or before offset
                var block = Block(b);
                int from = (int)(offset - _starts[b]);
                int n = Math.Min(destination.Length, block.Length - from);
                block.AsSpan(from, n).CopyTo(destination);
                destination = destination[n..];
                offset += n;
            }
        }

        private byte[] Block(int b)
        {
            var footer = _reader.Footer;
            if (_reader._cacheDictionary) return PieceDictionaryCache.Shared.GetOrLoad(footer, b, () => _reader.LoadDictionaryBlock(b));
            _own ??= new byte[]?[footer.Dictionaries.Length];
            return _own[b] ??= PieceDictionaryCache.Shared.TryGet(footer, b) ?? _reader.LoadDictionaryBlock(b);
        }
    }

    private byte[] LoadDictionaryBlock(int index)
    {
        var info = Footer.Dictionaries[index];
        var stored = new byte[info.StoredLength];
        if (RandomAccess.Read(_handle, stored, info.Offset) != stored.Length) throw new SegmentCorruptException(Path, "piece dictionary truncated");
        if (Crc32C.Compute(stored) != info.Crc) throw new SegmentCorruptException(Path, $"checksum mismatch in piece dictionary block {index}");
        if (info.Compression == ChunkInfo.Uncompressed) return stored.Length == info.RawLength ? stored : throw new SegmentCorruptException(Path, "piece dictionary block length mismatch");
        var raw = GC.AllocateUninitializedArray<byte>(info.RawLength);
        if (!ChunkCompression.TryDecompress(info.Compression, stored, raw)) throw new SegmentCorruptException(Path, "piece dictionary block does not decompress");
        return raw;
    }

    /// <summary>Checks every chunk's checksum (used on open when <see cref="StoreOptions.VerifyChunksOnOpen"/> is set).</summary>
    public void VerifyAllChunks()
    {
        for (int c = 0; c < Footer.Chunks.Length; c++)
            for (int g = 0; g < Footer.RowGroups.Length; g++)
            {
                var chunk = Footer.Chunks[c][g];
                byte[] buffer = ArrayPool<byte>.Shared.Rent(chunk.StoredLength);
                try
                {
                    var stored = buffer.AsSpan(0, chunk.StoredLength);
                    int read = RandomAccess.Read(_handle, stored, chunk.Offset);
                    if (read != stored.Length || Crc32C.Compute(stored) != chunk.Crc)
                        throw new SegmentCorruptException(Path, $"checksum mismatch in column '{Footer.Columns[c].Name}' row group {g}");
                }
                finally { ArrayPool<byte>.Shared.Return(buffer); }
            }
        for (int d = 0; d < Footer.Dictionaries.Length; d++)
        {
            var info = Footer.Dictionaries[d];
            var stored = new byte[info.StoredLength];
            if (RandomAccess.Read(_handle, stored, info.Offset) != stored.Length || Crc32C.Compute(stored) != info.Crc)
                throw new SegmentCorruptException(Path, $"checksum mismatch in piece dictionary block {d}");
        }
    }

    public void Dispose() => _handle.Dispose();
}
