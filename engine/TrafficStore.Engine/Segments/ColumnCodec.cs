using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Segments;

/// <summary>How a chunk's values are laid out before compression (see docs/storage-format.md).</summary>
public enum ChunkEncoding : byte
{
    /// <summary>Fixed-width little-endian values; for bytes: varint lengths then the bytes.</summary>
    Plain = 0,
    /// <summary>First value, then zigzag varint differences between neighbours.</summary>
    Delta = 1,
    /// <summary>First value, first difference, then zigzag varint differences of differences.</summary>
    DeltaOfDelta = 2,
    /// <summary>Distinct values (length-prefixed) then a varint index per row.</summary>
    Dictionary = 3,
    /// <summary>One bit per row (bool).</summary>
    BitPacked = 4,
}

/// <summary>
/// Encodes one column chunk into its raw (pre-compression) bytes and back. Picks the smallest
/// light encoding per chunk: delta or delta-of-delta for integers (timestamps and sequence
/// numbers shrink to a byte or two per row), dictionary for low-cardinality strings.
/// Raw layout: [validity bitmap, ceil(n/8) bytes, only when nullCount &gt; 0][payload].
/// </summary>
internal static class ColumnCodec
{
    public static ChunkEncoding Encode(ColumnVector v, ByteSink sink)
    {
        if (v.NullCount > 0) sink.WriteBytes(v.Validity);
        switch (v.Type)
        {
            case ColumnType.Bool:
                EncodeBits(v.Longs, sink);
                return ChunkEncoding.BitPacked;
            case ColumnType.Double:
                sink.WriteDoubles(v.Doubles);
                return ChunkEncoding.Plain;
            case ColumnType.Utf8:
            case ColumnType.Binary:
                return EncodeBytes(v, sink);
            default:
                return EncodeLongs(v.Longs, sink);
        }
    }

    private static void EncodeBits(long[] values, ByteSink sink)
    {
        var bits = new byte[(values.Length + 7) / 8];
        for (int i = 0; i < values.Length; i++) if (values[i] != 0) bits[i >> 3] |= (byte)(1 << (i & 7));
        sink.WriteBytes(bits);
    }

    private static ChunkEncoding EncodeLongs(long[] values, ByteSink sink)
    {
        // Size both difference encodings in one pass and keep the smallest of the three.
        long deltaSize = 0, dodSize = 0;
        long prev = 0, prevDelta = 0;
        for (int i = 0; i < values.Length; i++)
        {
            long delta = unchecked(values[i] - prev);
            deltaSize += ByteSink.VarUIntSize(ByteSink.ZigZag(delta));
            dodSize += ByteSink.VarUIntSize(ByteSink.ZigZag(i == 0 ? values[i] : unchecked(delta - prevDelta)));
            prevDelta = i == 0 ? 0 : delta;
            prev = values[i];
        }
        long plainSize = 8L * values.Length;
        if (plainSize <= deltaSize && plainSize <= dodSize)
        {
            sink.WriteLongs(values);
            return ChunkEncoding.Plain;
        }
        if (deltaSize <= dodSize)
        {
            prev = 0;
            foreach (var v in values) { sink.WriteVarInt(unchecked(v - prev)); prev = v; }
            return ChunkEncoding.Delta;
        }
        prev = 0; prevDelta = 0;
        for (int i = 0; i < values.Length; i++)
        {
            long delta = unchecked(values[i] - prev);
            sink.WriteVarInt(i == 0 ? values[i] : unchecked(delta - prevDelta));
            prevDelta = i == 0 ? 0 : delta;
            prev = values[i];
        }
        return ChunkEncoding.DeltaOfDelta;
    }

    /// <summary>
    /// Values longer than this on average are never dictionary-encoded: frames and bodies are almost all
    /// distinct, hashing them costs as much as compressing them, and zstd already stores a repeat within
    /// a chunk as a short back-reference (docs/benchmarks.md, "Codec encode").
    /// </summary>
    internal const int MaxDictionaryAverageBytes = 64;
    /// <summary>Rows hashed first to decide whether a full dictionary pass is worth trying.</summary>
    internal const int DictionarySampleRows = 64;

    /// <summary>
    /// A cheap guess whether dictionary encoding can pay: short values on average, and at most half of a
    /// sample of the first rows distinct (the full pass gives up at half of all rows distinct).
    /// </summary>
    private static bool DictionaryMayPay(ColumnVector v)
    {
        int n = v.Length;
        if (n < 4) return false;
        long valueBytes = v.Offsets[n] - v.Offsets[0];
        if (valueBytes > (long)MaxDictionaryAverageBytes * n) return false;
        int sample = Math.Min(n, DictionarySampleRows);
        var seen = new HashSet<int>(new RowBytesComparer(v));
        for (int i = 0; i < sample; i++)
        {
            seen.Add(i);
            if (seen.Count > sample / 2) return false;
        }
        return true;
    }

    private static ChunkEncoding EncodeBytes(ColumnVector v, ByteSink sink)
    {
        int n = v.Length;
        if (!DictionaryMayPay(v)) return EncodePlainBytes(v, sink);
        var ids = new Dictionary<int, int>(new RowBytesComparer(v));
        var rowIds = new int[n];
        var firstRows = new List<int>();
        int limit = Math.Max(1, n / 2);
        bool dictionary = true;
        for (int i = 0; i < n && dictionary; i++)
        {
            if (!ids.TryGetValue(i, out int id))
            {
                id = firstRows.Count;
                ids.Add(i, id);
                firstRows.Add(i);
                if (firstRows.Count > limit) dictionary = false;
            }
            rowIds[i] = id;
        }
        if (dictionary)
        {
            sink.WriteVarUInt((ulong)firstRows.Count);
            foreach (var r in firstRows) sink.WriteBlob(v.GetBytes(r));
            foreach (var id in rowIds) sink.WriteVarUInt((ulong)id);
            return ChunkEncoding.Dictionary;
        }
        return EncodePlainBytes(v, sink);
    }

    private static ChunkEncoding EncodePlainBytes(ColumnVector v, ByteSink sink)
    {
        int n = v.Length;
        // Lengths first, then the bytes: the lengths compress together and the bytes stay contiguous.
        for (int i = 0; i < n; i++) sink.WriteVarUInt((ulong)(v.Offsets[i + 1] - v.Offsets[i]));
        sink.WriteBytes(v.Bytes.AsSpan(v.Offsets[0], v.Offsets[n] - v.Offsets[0]));
        return ChunkEncoding.Plain;
    }

    /// <summary>
    /// True when <see cref="Decode"/> keeps a chunk's raw bytes as the vector's value bytes if given them to own:
    /// plain byte columns store their values contiguously after the lengths (frames, bodies — most of the bytes read).
    /// </summary>
    public static bool KeepsRaw(ColumnType type, ChunkEncoding encoding) => ColumnTypes.IsBytes(type) && encoding == ChunkEncoding.Plain;

    /// <summary>
    /// Decodes a chunk's raw bytes. When <paramref name="rawOwner"/> is given, <paramref name="raw"/> is all of it and
    /// the caller hands it over (never writes or reuses it): a plain byte column then keeps it as its value bytes, with
    /// offsets that start after the validity and lengths, instead of copying the values out (<see cref="KeepsRaw"/>).
    /// Every other array is allocated uninitialized and written in full.
    /// </summary>
    public static ColumnVector Decode(ColumnType type, ChunkEncoding encoding, int n, int nullCount, ReadOnlySpan<byte> raw, byte[]? rawOwner = null)
    {
        if (rawOwner is not null && rawOwner.Length != raw.Length) throw new ArgumentException("raw must be the whole of rawOwner.", nameof(rawOwner));
        var src = new ByteSource(raw);
        byte[]? validity = null;
        if (nullCount > 0) validity = src.ReadBytes((n + 7) / 8).ToArray();

        switch (type)
        {
            case ColumnType.Bool:
            {
                Expect(encoding, ChunkEncoding.BitPacked);
                var bits = src.ReadBytes((n + 7) / 8);
                var values = GC.AllocateUninitializedArray<long>(n);
                for (int i = 0; i < n; i++) values[i] = (bits[i >> 3] >> (i & 7)) & 1;
                return ColumnVector.OfLongs(type, values, validity, nullCount);
            }
            case ColumnType.Double:
            {
                Expect(encoding, ChunkEncoding.Plain);
                var values = GC.AllocateUninitializedArray<double>(n);
                CopyLittleEndian(src.ReadBytes(checked(n * sizeof(double))), values.AsSpan());
                return ColumnVector.OfDoubles(values, validity, nullCount);
            }
            case ColumnType.Utf8:
            case ColumnType.Binary:
                return DecodeBytes(type, encoding, n, validity, nullCount, ref src, rawOwner);
            default:
            {
                var values = GC.AllocateUninitializedArray<long>(n);
                switch (encoding)
                {
                    case ChunkEncoding.Plain:
                        CopyLittleEndian(src.ReadBytes(checked(n * sizeof(long))), values.AsSpan());
                        break;
                    case ChunkEncoding.Delta:
                    {
                        long prev = 0;
                        for (int i = 0; i < n; i++) { prev = unchecked(prev + src.ReadVarInt()); values[i] = prev; }
                        break;
                    }
                    case ChunkEncoding.DeltaOfDelta:
                    {
                        long prev = 0, delta = 0;
                        for (int i = 0; i < n; i++)
                        {
                            long x = src.ReadVarInt();
                            if (i == 0) prev = x;
                            else { delta = unchecked(delta + x); prev = unchecked(prev + delta); }
                            values[i] = prev;
                        }
                        break;
                    }
                    default:
                        throw new InvalidDataException($"Encoding {encoding} is not valid for {ColumnTypes.Name(type)}.");
                }
                return ColumnVector.OfLongs(type, values, validity, nullCount);
            }
        }
    }

    /// <summary>Fixed-width little-endian values into <paramref name="values"/> (one block copy on little-endian machines).</summary>
    private static void CopyLittleEndian<T>(ReadOnlySpan<byte> bytes, Span<T> values) where T : unmanaged
    {
        if (BitConverter.IsLittleEndian)
        {
            bytes.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values));
            return;
        }
        var src = new ByteSource(bytes);
        if (typeof(T) == typeof(long))
            foreach (ref long v in System.Runtime.InteropServices.MemoryMarshal.Cast<T, long>(values)) v = src.ReadInt64();
        else
            foreach (ref double v in System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(values)) v = src.ReadDouble();
    }

    private static ColumnVector DecodeBytes(ColumnType type, ChunkEncoding encoding, int n, byte[]? validity, int nullCount, ref ByteSource src, byte[]? rawOwner)
    {
        var offsets = GC.AllocateUninitializedArray<int>(n + 1);
        if (encoding == ChunkEncoding.Dictionary)
        {
            int count = src.ReadCount();
            var entries = new byte[count][];
            for (int i = 0; i < count; i++) entries[i] = src.ReadBlob().ToArray();
            var ids = new int[n];
            long total = 0;
            for (int i = 0; i < n; i++)
            {
                int id = src.ReadCount();
                if (id >= count) throw new InvalidDataException("Dictionary index out of range.");
                ids[i] = id;
                total += entries[id].Length;
            }
            var bytes = GC.AllocateUninitializedArray<byte>(checked((int)total));
            int pos = 0;
            for (int i = 0; i < n; i++)
            {
                offsets[i] = pos;
                entries[ids[i]].CopyTo(bytes, pos);
                pos += entries[ids[i]].Length;
            }
            offsets[n] = pos;
            return ColumnVector.OfBytes(type, offsets, bytes, validity, nullCount);
        }
        Expect(encoding, ChunkEncoding.Plain);
        int p = 0;
        for (int i = 0; i < n; i++)
        {
            offsets[i] = p;
            p = checked(p + src.ReadCount());
        }
        offsets[n] = p;
        int start = src.Position;
        var values = src.ReadBytes(p); // checks that the values are all there
        if (rawOwner is null)
        {
            var copy = GC.AllocateUninitializedArray<byte>(p);
            values.CopyTo(copy);
            return ColumnVector.OfBytes(type, offsets, copy, validity, nullCount);
        }
        // The values stay where they were decompressed: offsets point past the validity and lengths.
        for (int i = 0; i <= n; i++) offsets[i] += start;
        return ColumnVector.OfBytes(type, offsets, rawOwner, validity, nullCount);
    }

    private static void Expect(ChunkEncoding actual, ChunkEncoding expected)
    {
        if (actual != expected) throw new InvalidDataException($"Unexpected chunk encoding {actual} (expected {expected}).");
    }

    /// <summary>Compares rows of one byte vector by content, so a dictionary can be keyed by row number.</summary>
    private sealed class RowBytesComparer(ColumnVector v) : IEqualityComparer<int>
    {
        public bool Equals(int a, int b) => v.GetBytes(a).SequenceEqual(v.GetBytes(b));
        public int GetHashCode(int row)
        {
            return ByteHash.Of(v.GetBytes(row));
        }
    }
}
