using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// A segment's piece dictionary as its writer builds it: the content-defined pieces (<see cref="ContentDefinedPieces"/>)
/// that occur at least twice among the byte-column chunks of a dictionary window, stored once, and each chunk
/// rewritten as references into the dictionary plus the bytes that are not repeated (<see cref="PieceReferences"/>;
/// docs/storage-format.md, "Piece dictionary").
/// </summary>
/// <remarks>
/// Why: a chunk is compressed alone (so a query decodes only what it reads), and zstd cannot see a body or frame
/// that repeats in another chunk of the same segment — replayed captures, the same asset served again and again.
/// Pieces seen once stay where they are; a piece's first occurrence becomes a reference too, so every repeated
/// piece is stored once. The dictionary only grows: a window appends the pieces that repeat within it and are not
/// stored yet, and its chunks refer to pieces stored by any earlier window of the segment as well (a capture
/// replayed every few MB is stored once per segment, not once per window). A window's chunks are held by reference
/// until <see cref="EndWindow"/>.
/// </remarks>
internal sealed class RepeatedPieces
{
    /// <summary>The dictionary so far: the pieces of every finished window, back to back.</summary>
    private readonly ByteSink _dictionary = new(64 * 1024);
    private readonly long _maxDictionaryBytes;
    /// <summary>Pieces already in the dictionary (keys with <see cref="PieceKey.Chunk"/> = -1) → their offset in it.</summary>
    private readonly Dictionary<PieceKey, int> _stored;

    // The open window.
    private readonly List<byte[]> _chunks = [];
    /// <summary>Per chunk: its pieces in order, as indexes into <see cref="_pieces"/>.</summary>
    private readonly List<int[]> _chunkPieces = [];
    private readonly List<Piece> _pieces = [];
    private readonly Dictionary<PieceKey, int> _byContent;
    private bool _closed;

    private struct Piece
    {
        public int Chunk, Start, Length, Count;
        /// <summary>The content hash the piece was counted under (reused when it is stored: hashed once).</summary>
        public int Hash;
        /// <summary>Offset in the dictionary, or -1 when the piece stays in its chunks.</summary>
        public int DictionaryOffset;
        /// <summary>Long enough for a reference to pay (<see cref="Worth"/>).</summary>
        public bool Worth;
    }

    /// <summary>Below this a piece is not worth a reference even at an edge (a run of lengths of similar values repeats often, and zstd stores it in a few bytes).</summary>
    private const int MinTailPiece = 1024;

    /// <summary>
    /// Whether a piece is worth a reference: a full piece, or the last piece before a forced cut or the chunk's end (shorter
    /// than a full piece; without it every repeated body and every repeated chunk would keep its tail), if not tiny.
    /// </summary>
    private static bool Worth(int length, bool endsAtEdge) => length >= ContentDefinedPieces.MinPiece || (endsAtEdge && length >= MinTailPiece);

    /// <summary>Where a piece's bytes are: a chunk of the open window, or (<see cref="Chunk"/> = -1) the dictionary.</summary>
    private readonly record struct PieceKey(int Chunk, int Start, int Length, int Hash);

    private sealed class ContentComparer(RepeatedPieces owner) : IEqualityComparer<PieceKey>
    {
        public bool Equals(PieceKey a, PieceKey b) =>
            a.Hash == b.Hash && a.Length == b.Length && owner.Bytes(a).SequenceEqual(owner.Bytes(b));
        public int GetHashCode(PieceKey key) => key.Hash;
    }

    public RepeatedPieces(long maxDictionaryBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDictionaryBytes);
        _maxDictionaryBytes = Math.Min(maxDictionaryBytes, Array.MaxLength);
        _stored = new Dictionary<PieceKey, int>(new ContentComparer(this));
        _byContent = new Dictionary<PieceKey, int>(new ContentComparer(this));
    }

    /// <summary>Bytes of the dictionary so far.</summary>
    public int DictionaryLength => _dictionary.Length;

    private ReadOnlySpan<byte> Bytes(PieceKey key) =>
        key.Chunk < 0 ? _dictionary.WrittenSpan.Slice(key.Start, key.Length) : _chunks[key.Chunk].AsSpan(key.Start, key.Length);

    /// <summary>
    /// Cuts the first <paramref name="length"/> bytes of <paramref name="raw"/> (kept by reference until <see cref="EndWindow"/>)
    /// into pieces and counts them; returns the chunk's number in the window. <paramref name="forcedCuts"/> (ascending) are
    /// offsets where a piece must end: the writer passes the start and end of every large value, so a body repeated whole
    /// is cut the same way each time, from its first byte to its last — content-defined cuts alone lose the pieces that
    /// straddle its edges.
    /// </summary>
    public int Add(byte[] raw, int length, ReadOnlySpan<int> forcedCuts = default)
    {
        if (_closed) throw new InvalidOperationException("The window's dictionary pieces were already chosen; call EndWindow first.");
        int chunk = _chunks.Count;
        _chunks.Add(raw); // held by reference; only the first length bytes are read
        var ids = new List<int>(length / (ContentDefinedPieces.MinPiece * 4) + 1);
        int at = 0, cut = 0;
        while (at < length)
        {
            while (cut < forcedCuts.Length && forcedCuts[cut] <= at) cut++;
            bool forced = cut < forcedCuts.Length && forcedCuts[cut] < length;
            int regionEnd = forced ? forcedCuts[cut] : length;
            int pieceLength = ContentDefinedPieces.NextPieceLength(raw.AsSpan(at, regionEnd - at));
            bool worth = Worth(pieceLength, at + pieceLength == regionEnd);
            var key = new PieceKey(chunk, at, pieceLength, ByteHash.Of(raw.AsSpan(at, pieceLength)));
            if (_byContent.TryGetValue(key, out int id))
            {
                var p = _pieces[id];
                p.Count++;
                _pieces[id] = p;
            }
            else
            {
                id = _pieces.Count;
                int stored = worth && _stored.TryGetValue(key, out int offset) ? offset : -1;
                _pieces.Add(new Piece { Chunk = chunk, Start = at, Length = pieceLength, Count = 1, Hash = key.Hash, DictionaryOffset = stored, Worth = worth });
                _byContent.Add(key, id);
            }
            ids.Add(id);
            at += pieceLength;
        }
        _chunkPieces.Add(ids.ToArray());
        return chunk;
    }

    /// <summary>
    /// Appends to the dictionary every piece of the window seen at least twice and not stored yet, once each, in order
    /// of first occurrence, up to the byte bound given at construction (pieces beyond it stay in their chunks);
    /// returns the bytes appended (empty when nothing new repeats), valid until the next window closes.
    /// </summary>
    public ReadOnlySpan<byte> CloseWindow()
    {
        if (_closed) throw new InvalidOperationException("The window is already closed.");
        _closed = true;
        int start = _dictionary.Length;
        for (int i = 0; i < _pieces.Count; i++)
        {
            var p = _pieces[i];
            if (p.DictionaryOffset >= 0 || p.Count < 2 || !p.Worth || _dictionary.Length + (long)p.Length > _maxDictionaryBytes) continue;
            p.DictionaryOffset = _dictionary.Length;
            _pieces[i] = p;
            var bytes = _chunks[p.Chunk].AsSpan(p.Start, p.Length);
            _dictionary.WriteBytes(bytes);
            _stored.Add(new PieceKey(-1, p.DictionaryOffset, p.Length, p.Hash), p.DictionaryOffset);
        }
        return _dictionary.WrittenSpan[start..];
    }

    /// <summary>
    /// Writes window chunk <paramref name="chunk"/> in the referencing form into <paramref name="output"/> (cleared first);
    /// false (nothing written) when none of its pieces is in the dictionary.
    /// </summary>
    public bool Encode(int chunk, ByteSink output)
    {
        if (!_closed) throw new InvalidOperationException("Close the window first.");
        output.Clear();
        var ids = _chunkPieces[chunk];
        var refs = new List<(int LiteralBefore, int Offset, int Length)>();
        int literal = 0;
        foreach (int id in ids)
        {
            var p = _pieces[id];
            if (p.DictionaryOffset < 0) { literal += p.Length; continue; }
            // Consecutive pieces that are also consecutive in the dictionary (a repeated body longer than one piece) are one reference.
            if (literal == 0 && refs.Count > 0 && refs[^1].Offset + refs[^1].Length == p.DictionaryOffset)
                refs[^1] = (refs[^1].LiteralBefore, refs[^1].Offset, refs[^1].Length + p.Length);
            else
                refs.Add((literal, p.DictionaryOffset, p.Length));
            literal = 0;
        }
        if (refs.Count == 0) return false;
        output.WriteVarUInt((ulong)refs.Count);
        foreach (var (before, offset, length) in refs)
        {
            output.WriteVarUInt((ulong)before);
            output.WriteVarUInt((ulong)offset);
            output.WriteVarUInt((ulong)length);
        }
        int at = 0;
        foreach (int id in ids)
        {
            var p = _pieces[id];
            if (p.DictionaryOffset < 0) output.WriteBytes(_chunks[chunk].AsSpan(at, p.Length));
            at += p.Length;
        }
        return true;
    }

    /// <summary>Forgets the window's chunks (the dictionary and what it holds stay): the next window starts.</summary>
    public void EndWindow()
    {
        _chunks.Clear();
        _chunkPieces.Clear();
        _pieces.Clear();
        _byContent.Clear();
        _closed = false;
    }
}

/// <summary>The bytes of a piece dictionary, by range (a reader loads only the blocks a chunk's references touch).</summary>
internal interface IPieceSource
{
    long Length { get; }

    /// <summary>Copies <paramref name="destination"/>.Length bytes from <paramref name="offset"/> (within <see cref="Length"/>).</summary>
    void CopyTo(long offset, Span<byte> destination);
}

/// <summary>A piece dictionary held whole in memory.</summary>
internal sealed class ArrayPieceSource(byte[] bytes) : IPieceSource
{
    public long Length => bytes.Length;
    public void CopyTo(long offset, Span<byte> destination) => bytes.AsSpan(checked((int)offset), destination.Length).CopyTo(destination);
}

/// <summary>Reads the referencing form written by <see cref="RepeatedPieces.Encode"/> back into the chunk's raw bytes.</summary>
internal static class PieceReferences
{
    /// <summary>
    /// Rebuilds the raw chunk into exactly <paramref name="raw"/> from <paramref name="encoded"/> and
    /// <paramref name="dictionary"/>. False when the references or lengths do not fit (a damaged chunk or footer).
    /// </summary>
    public static bool TryExpand(ReadOnlySpan<byte> encoded, IPieceSource dictionary, Span<byte> raw)
    {
        try
        {
            var header = new ByteSource(encoded);
            ulong count = header.ReadVarUInt();
            if (count == 0 || count > (ulong)encoded.Length) return false;
            // The literals follow the references: find where they start first.
            var scan = header;
            for (ulong i = 0; i < count; i++) { scan.ReadVarUInt(); scan.ReadVarUInt(); scan.ReadVarUInt(); }
            var literals = encoded[scan.Position..];
            int lit = 0, at = 0;
            ulong dictionaryLength = (ulong)dictionary.Length;
            for (ulong i = 0; i < count; i++)
            {
                ulong before = header.ReadVarUInt(), offset = header.ReadVarUInt(), length = header.ReadVarUInt();
                if (before > (ulong)(literals.Length - lit) || before > (ulong)(raw.Length - at)) return false;
                literals.Slice(lit, (int)before).CopyTo(raw[at..]);
                lit += (int)before;
                at += (int)before;
                if (offset > dictionaryLength || length > dictionaryLength - offset || length > (ulong)(raw.Length - at)) return false;
                dictionary.CopyTo((long)offset, raw.Slice(at, (int)length));
                at += (int)length;
            }
            if (literals.Length - lit != raw.Length - at) return false;
            literals[lit..].CopyTo(raw[at..]);
            return true;
        }
        catch (InvalidDataException)
        {
            return false; // a varint ran past the end: damaged
        }
    }
}
