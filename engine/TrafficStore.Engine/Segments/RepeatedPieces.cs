using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Segments;

/// <summary>
/// Finds the content-defined pieces (<see cref="ContentDefinedPieces"/>) that occur at least twice among a set of
/// raw chunks (the byte columns of a segment's dictionary window), lays each of them out once in a piece
/// dictionary, and rewrites each chunk as references into it plus the bytes that are not repeated
/// (<see cref="PieceReferences"/>; docs/storage-format.md, "Piece dictionary").
/// </summary>
/// <remarks>
/// Why: a chunk is compressed alone (so a query decodes only what it reads), and zstd cannot see a body or frame
/// that repeats in another chunk of the same segment — replayed captures, the same asset served again and again.
/// Pieces seen once stay where they are; a piece's first occurrence becomes a reference too, so every repeated
/// piece is stored once. The chunks are held by reference until <see cref="Encode"/> is done with them.
/// </remarks>
internal sealed class RepeatedPieces
{
    private readonly List<byte[]> _chunks = [];
    private readonly List<int> _chunkLengths = [];
    /// <summary>Per chunk: its pieces in order, as indexes into <see cref="_pieces"/>.</summary>
    private readonly List<int[]> _chunkPieces = [];
    private readonly List<Piece> _pieces = [];
    private readonly Dictionary<PieceKey, int> _byContent;
    private readonly long _maxDictionaryBytes;
    private bool _built;

    private struct Piece
    {
        public int Chunk, Start, Length, Count;
        /// <summary>Offset in the dictionary, or -1 when the piece stays in its chunks.</summary>
        public int DictionaryOffset;
    }

    private readonly record struct PieceKey(int Chunk, int Start, int Length, int Hash);

    private sealed class ContentComparer(RepeatedPieces owner) : IEqualityComparer<PieceKey>
    {
        public bool Equals(PieceKey a, PieceKey b) =>
            a.Hash == b.Hash && a.Length == b.Length && owner.Bytes(a.Chunk, a.Start, a.Length).SequenceEqual(owner.Bytes(b.Chunk, b.Start, b.Length));
        public int GetHashCode(PieceKey key) => key.Hash;
    }

    public RepeatedPieces(long maxDictionaryBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxDictionaryBytes);
        _maxDictionaryBytes = maxDictionaryBytes;
        _byContent = new Dictionary<PieceKey, int>(new ContentComparer(this));
    }

    private ReadOnlySpan<byte> Bytes(int chunk, int start, int length) => _chunks[chunk].AsSpan(start, length);

    /// <summary>
    /// Cuts the first <paramref name="length"/> bytes of <paramref name="raw"/> (kept by reference) into pieces and counts
    /// them; returns the chunk's number. <paramref name="forcedCuts"/> (ascending) are offsets where a piece must end:
    /// the writer passes the start and end of every large value, so a body repeated whole is cut the same way each time,
    /// from its first byte to its last — content-defined cuts alone lose the pieces that straddle its edges.
    /// </summary>
    public int Add(byte[] raw, int length, ReadOnlySpan<int> forcedCuts = default)
    {
        if (_built) throw new InvalidOperationException("Chunks must be added before the dictionary is built.");
        int chunk = _chunks.Count;
        _chunks.Add(raw);
        _chunkLengths.Add(length);
        var ids = new List<int>(length / (ContentDefinedPieces.MinPiece * 4) + 1);
        int at = 0, cut = 0;
        while (at < length)
        {
            while (cut < forcedCuts.Length && forcedCuts[cut] <= at) cut++;
            int regionEnd = cut < forcedCuts.Length && forcedCuts[cut] < length ? forcedCuts[cut] : length;
            int pieceLength = ContentDefinedPieces.NextPieceLength(raw.AsSpan(at, regionEnd - at));
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
                _pieces.Add(new Piece { Chunk = chunk, Start = at, Length = pieceLength, Count = 1, DictionaryOffset = -1 });
                _byContent.Add(key, id);
            }
            ids.Add(id);
            at += pieceLength;
        }
        _chunkPieces.Add(ids.ToArray());
        return chunk;
    }

    /// <summary>
    /// The dictionary: every piece seen at least twice, once each, in order of first occurrence, up to the byte
    /// bound given at construction (pieces beyond it stay in their chunks). Empty when nothing repeats.
    /// </summary>
    public byte[] BuildDictionary()
    {
        _built = true;
        long total = 0;
        for (int i = 0; i < _pieces.Count; i++)
        {
            var p = _pieces[i];
            // Pieces too short to be worth a reference: the chunk's tail (shorter than a minimum piece) repeats often
            // when values are small, and zstd stores such repeats within the chunk for less.
            if (p.Count < 2 || p.Length < ContentDefinedPieces.MinPiece || total + p.Length > _maxDictionaryBytes) continue;
            p.DictionaryOffset = checked((int)total);
            _pieces[i] = p;
            total += p.Length;
        }
        var dictionary = new byte[total];
        foreach (var p in _pieces)
            if (p.DictionaryOffset >= 0) Bytes(p.Chunk, p.Start, p.Length).CopyTo(dictionary.AsSpan(p.DictionaryOffset));
        return dictionary;
    }

    /// <summary>
    /// Writes chunk <paramref name="chunk"/> in the referencing form into <paramref name="output"/> (cleared first);
    /// false (nothing written) when none of its pieces is in the dictionary.
    /// </summary>
    public bool Encode(int chunk, ByteSink output)
    {
        if (!_built) throw new InvalidOperationException("Build the dictionary first.");
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
            if (p.DictionaryOffset < 0) output.WriteBytes(Bytes(chunk, at, p.Length));
            at += p.Length;
        }
        return true;
    }
}

/// <summary>Reads the referencing form written by <see cref="RepeatedPieces.Encode"/> back into the chunk's raw bytes.</summary>
internal static class PieceReferences
{
    /// <summary>
    /// Rebuilds the raw chunk into exactly <paramref name="raw"/> from <paramref name="encoded"/> and
    /// <paramref name="dictionary"/>. False when the references or lengths do not fit (a damaged chunk or dictionary).
    /// </summary>
    public static bool TryExpand(ReadOnlySpan<byte> encoded, ReadOnlySpan<byte> dictionary, Span<byte> raw)
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
            for (ulong i = 0; i < count; i++)
            {
                ulong before = header.ReadVarUInt(), offset = header.ReadVarUInt(), length = header.ReadVarUInt();
                if (before > (ulong)(literals.Length - lit) || before > (ulong)(raw.Length - at)) return false;
                literals.Slice(lit, (int)before).CopyTo(raw[at..]);
                lit += (int)before;
                at += (int)before;
                if (offset > (ulong)dictionary.Length || length > (ulong)dictionary.Length - offset || length > (ulong)(raw.Length - at)) return false;
                dictionary.Slice((int)offset, (int)length).CopyTo(raw[at..]);
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
