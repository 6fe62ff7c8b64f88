using System.Runtime.InteropServices;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace TrafficStore.Engine.Columns;

/// <summary>
/// The engine's in-memory column: one typed lane of values plus an optional validity bitmap.
/// Unsealed rows, decoded row groups and rows being sealed all live in this one shape so that
/// filtering and Arrow conversion have a single implementation.
/// Integer-like types (int64, timestamp, duration, bool as 0/1) use <see cref="Longs"/>;
/// doubles use <see cref="Doubles"/>; utf8 and binary use <see cref="Offsets"/> + <see cref="Bytes"/>.
/// A null slot holds 0 / empty so encoders can treat values uniformly.
/// </summary>
internal sealed class ColumnVector
{
    public ColumnType Type { get; }
    public int Length { get; }
    public long[] Longs { get; } = [];
    public double[] Doubles { get; } = [];
    /// <summary>Length + 1 offsets into <see cref="Bytes"/> (byte types only).</summary>
    public int[] Offsets { get; } = [];
    public byte[] Bytes { get; } = [];
    /// <summary>Bit i set = row i valid (LSB first, as Arrow). Null means every row is valid.</summary>
    public byte[]? Validity { get; }
    public int NullCount { get; }

    private ColumnVector(ColumnType type, int length, long[]? longs, double[]? doubles, int[]? offsets, byte[]? bytes, byte[]? validity, int nullCount)
    {
        Type = type;
        Length = length;
        if (longs is not null) Longs = longs;
        if (doubles is not null) Doubles = doubles;
        if (offsets is not null) Offsets = offsets;
        if (bytes is not null) Bytes = bytes;
        Validity = nullCount == 0 ? null : validity;
        NullCount = nullCount;
    }

    public static ColumnVector OfLongs(ColumnType type, long[] values, byte[]? validity, int nullCount) =>
        new(type, values.Length, values, null, null, null, validity, nullCount);

    public static ColumnVector OfDoubles(double[] values, byte[]? validity, int nullCount) =>
        new(ColumnType.Double, values.Length, null, values, null, null, validity, nullCount);

    public static ColumnVector OfBytes(ColumnType type, int[] offsets, byte[] bytes, byte[]? validity, int nullCount) =>
        new(type, offsets.Length - 1, null, null, offsets, bytes, validity, nullCount);

    public bool IsNull(int row) => Validity is not null && (Validity[row >> 3] & (1 << (row & 7))) == 0;

    public ReadOnlySpan<byte> GetBytes(int row) => Bytes.AsSpan(Offsets[row], Offsets[row + 1] - Offsets[row]);

    /// <summary>Approximate raw (uncompressed) size, used for size bounds and compression ratios.</summary>
    public long RawBytes => Type switch
    {
        ColumnType.Double => 8L * Length,
        ColumnType.Bool => (Length + 7) / 8,
        ColumnType.Utf8 or ColumnType.Binary => Offsets[Length] - Offsets[0] + 4L * Length, // offsets of a decoded chunk may start past 0
        _ => 8L * Length,
    } + (Validity is null ? 0 : (Length + 7) / 8);

    /// <summary>A vector of <paramref name="length"/> nulls (a column missing from an older schema).</summary>
    public static ColumnVector Nulls(ColumnType type, int length)
    {
        var validity = new byte[(length + 7) / 8];
        return type switch
        {
            ColumnType.Double => new(type, length, null, new double[length], null, null, validity, length),
            ColumnType.Utf8 or ColumnType.Binary => new(type, length, null, null, new int[length + 1], [], validity, length),
            _ => new(type, length, new long[length], null, null, null, validity, length),
        };
    }

    // ---------------------------------------------------------------- Arrow -> vector

    public static ColumnVector FromArrow(IArrowArray array, ColumnType type)
    {
        int n = array.Length;
        byte[]? validity = null;
        int nullCount = 0;
        if (array.NullCount > 0)
        {
            var data = array.Data;
            var arrowBitmap = data.Buffers[0].Span;
            if (data.Offset == 0 && arrowBitmap.Length >= (n + 7) / 8)
            {
                // Arrow's bitmap is ours bit for bit (LSB first) when the array is not a slice: one copy, bits past n cleared.
                validity = arrowBitmap[..((n + 7) / 8)].ToArray();
                if ((n & 7) != 0) validity[^1] &= (byte)((1 << (n & 7)) - 1);
                nullCount = array.NullCount;
            }
            else
            {
                validity = new byte[(n + 7) / 8];
                for (int i = 0; i < n; i++)
                {
                    if (array.IsNull(i)) nullCount++;
                    else validity[i >> 3] |= (byte)(1 << (i & 7));
                }
            }
        }

        switch (type)
        {
            case ColumnType.Int64:
            case ColumnType.TimestampNs:
            case ColumnType.DurationNs:
            {
                ReadOnlySpan<long> src = array switch
                {
                    Int64Array a => a.Values,
                    TimestampArray a => a.Values,
                    DurationArray a => a.Values,
                    _ => throw new ArgumentException($"Expected a 64-bit integer array for {ColumnTypes.Name(type)}, got {array.GetType().Name}."),
                };
                var values = src.ToArray();
                if (validity is not null)
                    for (int i = 0; i < n; i++) if (!IsValid(validity, i)) values[i] = 0;
                return OfLongs(type, values, validity, nullCount);
            }
            case ColumnType.Bool:
            {
                var a = (BooleanArray)array;
                var values = new long[n];
                for (int i = 0; i < n; i++) values[i] = a.GetValue(i) == true ? 1 : 0;
                return OfLongs(type, values, validity, nullCount);
            }
            case ColumnType.Double:
            {
                var values = ((DoubleArray)array).Values.ToArray();
                if (validity is not null)
                    for (int i = 0; i < n; i++) if (!IsValid(validity, i)) values[i] = 0;
                return OfDoubles(values, validity, nullCount);
            }
            case ColumnType.Utf8:
            case ColumnType.Binary:
            {
                var a = (BinaryArray)array; // StringArray derives from BinaryArray
                if (TryCopyContiguous(a, validity) is { } copied) return OfBytes(type, copied.Offsets, copied.Bytes, validity, nullCount);
                var offsets = new int[n + 1];
                long total = 0;
                for (int i = 0; i < n; i++) total += a.IsNull(i) ? 0 : a.GetBytes(i).Length;
                // Every byte is written below: an uninitialised array saves zeroing MBs per batch.
                var bytes = GC.AllocateUninitializedArray<byte>(checked((int)total));
                int pos = 0;
                for (int i = 0; i < n; i++)
                {
                    offsets[i] = pos;
                    if (!a.IsNull(i))
                    {
                        var v = a.GetBytes(i);
                        v.CopyTo(bytes.AsSpan(pos));
                        pos += v.Length;
                    }
                }
                offsets[n] = pos;
                return OfBytes(type, offsets, bytes, validity, nullCount);
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(type));
        }
    }

    /// <summary>
    /// The values of a binary array as one copy of its value buffer and rebased offsets, when every null
    /// slot is empty (as Arrow's builders leave them); null otherwise. Saves a span per row (frames, bodies).
    /// </summary>
    private static (int[] Offsets, byte[] Bytes)? TryCopyContiguous(BinaryArray a, byte[]? validity)
    {
        int n = a.Length;
        var src = a.ValueOffsets; // n + 1 offsets, already shifted by the array's offset
        if (validity is not null)
            for (int i = 0; i < n; i++)
                if (!IsValid(validity, i) && src[i + 1] != src[i]) return null;
        int first = src[0];
        var offsets = new int[n + 1];
        for (int i = 0; i <= n; i++) offsets[i] = src[i] - first;
        var bytes = a.ValueBuffer.Span.Slice(first, src[n] - first).ToArray();
        return (offsets, bytes);
    }

    private static bool IsValid(byte[] validity, int i) => (validity[i >> 3] & (1 << (i & 7))) != 0;

    // ---------------------------------------------------------------- vector -> Arrow

    /// <summary>Builds an Arrow array of the rows in <paramref name="rows"/> (all rows when null).</summary>
    public IArrowArray ToArrow(int[]? rows = null, int count = -1)
    {
        int n = rows is null ? Length : (count < 0 ? rows.Length : count);
        ArrowBuffer nullBuffer = ArrowBuffer.Empty;
        int nulls = 0;
        if (NullCount > 0)
        {
            var bitmap = new byte[(n + 7) / 8];
            for (int i = 0; i < n; i++)
            {
                int r = rows is null ? i : rows[i];
                if (IsNull(r)) nulls++;
                else bitmap[i >> 3] |= (byte)(1 << (i & 7));
            }
            if (nulls > 0) nullBuffer = new ArrowBuffer(bitmap);
        }

        switch (Type)
        {
            case ColumnType.Int64:
            case ColumnType.TimestampNs:
            case ColumnType.DurationNs:
            {
                // Gather straight into the buffer's bytes (one copy, not gather then copy).
                var valueBytes = new byte[checked(n * sizeof(long))];
                var values = MemoryMarshal.Cast<byte, long>(valueBytes.AsSpan());
                for (int i = 0; i < n; i++) values[i] = Longs[rows is null ? i : rows[i]];
                var buffer = new ArrowBuffer(valueBytes);
                return Type switch
                {
                    ColumnType.Int64 => new Int64Array(buffer, nullBuffer, n, nulls, 0),
                    ColumnType.TimestampNs => new TimestampArray(ColumnTypes.TimestampNsUtc, buffer, nullBuffer, n, nulls, 0),
                    _ => new DurationArray(DurationType.Nanosecond, buffer, nullBuffer, n, nulls, 0),
                };
            }
            case ColumnType.Bool:
            {
                var bits = new byte[(n + 7) / 8];
                for (int i = 0; i < n; i++)
                    if (Longs[rows is null ? i : rows[i]] != 0) bits[i >> 3] |= (byte)(1 << (i & 7));
                return new BooleanArray(new ArrowBuffer(bits), nullBuffer, n, nulls, 0);
            }
            case ColumnType.Double:
            {
                var valueBytes = new byte[checked(n * sizeof(double))];
                var values = MemoryMarshal.Cast<byte, double>(valueBytes.AsSpan());
                for (int i = 0; i < n; i++) values[i] = Doubles[rows is null ? i : rows[i]];
                return new DoubleArray(new ArrowBuffer(valueBytes), nullBuffer, n, nulls, 0);
            }
            default:
            {
                var offsetBytes = new byte[checked((n + 1) * sizeof(int))];
                var offsets = MemoryMarshal.Cast<byte, int>(offsetBytes.AsSpan());
                ReadOnlyMemory<byte> data;
                if (ContiguousStart(rows, n) is int first)
                {
                    // A run of rows (every row matched, or a batch cut from such a run): the values are one
                    // range of this vector's bytes, never written after it is built, so the Arrow buffer is a slice of them — no copy.
                    int baseOffset = Offsets[first];
                    for (int i = 0; i <= n; i++) offsets[i] = Offsets[first + i] - baseOffset;
                    data = Bytes.AsMemory(baseOffset, offsets[n]);
                }
                else
                {
                    long total = 0;
                    for (int i = 0; i < n; i++)
                    {
                        int r = rows![i];
                        total += Offsets[r + 1] - Offsets[r];
                    }
                    var gathered = GC.AllocateUninitializedArray<byte>(checked((int)total));
                    int pos = 0;
                    for (int i = 0; i < n; i++)
                    {
                        int r = rows![i];
                        offsets[i] = pos;
                        var v = GetBytes(r);
                        v.CopyTo(gathered.AsSpan(pos));
                        pos += v.Length;
                    }
                    offsets[n] = pos;
                    data = gathered;
                }
                var offsetBuffer = new ArrowBuffer(offsetBytes);
                return Type == ColumnType.Utf8
                    ? new StringArray(n, offsetBuffer, new ArrowBuffer(data), nullBuffer, nulls, 0)
                    : new BinaryArray(BinaryType.Default, n, offsetBuffer, new ArrowBuffer(data), nullBuffer, nulls, 0);
            }
        }
    }

    /// <summary>The first row when the selected rows are consecutive (all rows when <paramref name="rows"/> is null); otherwise null.</summary>
    private static int? ContiguousStart(int[]? rows, int n)
    {
        if (n == 0) return null; // the gather path builds an empty array without touching Offsets
        if (rows is null) return 0;
        int first = rows[0];
        for (int i = 1; i < n; i++)
            if (rows[i] != first + i) return null;
        return first;
    }

    // ---------------------------------------------------------------- reshaping

    /// <summary>The rows of <paramref name="parts"/> one after another, reordered by <paramref name="order"/> when given.</summary>
    public static ColumnVector Concat(ColumnType type, IReadOnlyList<ColumnVector> parts, int[]? order = null)
    {
        if (parts.Count == 1 && order is null) return parts[0];
        int total = 0, nulls = 0;
        foreach (var p in parts) { total += p.Length; nulls += p.NullCount; }
        byte[]? validity = null;
        if (nulls > 0)
        {
            validity = AllValid(total);
            int at = 0;
            foreach (var p in parts)
            {
                if (p.NullCount > 0)
                    for (int r = 0; r < p.Length; r++)
                        if (p.IsNull(r)) validity[(at + r) >> 3] &= (byte)~(1 << ((at + r) & 7));
                at += p.Length;
            }
        }
        ColumnVector joined;
        if (ColumnTypes.IsBytes(type))
        {
            long bytes = 0;
            foreach (var p in parts) bytes += p.Offsets[p.Length] - p.Offsets[0];
            var data = GC.AllocateUninitializedArray<byte>(checked((int)bytes));
            var offsets = new int[total + 1];
            int at = 0, pos = 0;
            foreach (var p in parts)
            {
                int baseOffset = p.Offsets[0], len = p.Offsets[p.Length] - baseOffset;
                System.Array.Copy(p.Bytes, baseOffset, data, pos, len);
                for (int r = 0; r < p.Length; r++) offsets[at + r] = pos + p.Offsets[r] - baseOffset;
                at += p.Length;
                pos += len;
            }
            offsets[total] = pos;
            joined = OfBytes(type, offsets, data, validity, nulls);
        }
        else if (type == ColumnType.Double)
        {
            var values = new double[total];
            int at = 0;
            foreach (var p in parts) { System.Array.Copy(p.Doubles, 0, values, at, p.Length); at += p.Length; }
            joined = OfDoubles(values, validity, nulls);
        }
        else
        {
            var values = new long[total];
            int at = 0;
            foreach (var p in parts) { System.Array.Copy(p.Longs, 0, values, at, p.Length); at += p.Length; }
            joined = OfLongs(type, values, validity, nulls);
        }
        return order is null ? joined : joined.Select(order, order.Length);
    }

    /// <summary>
    /// The rows of several ranges <c>[Start, Start+Count)</c> of vectors of one type, one after another, in a
    /// single copy: a bulk seal builds each row group this way straight from the appended blocks, without
    /// first concatenating everything and then slicing it.
    /// </summary>
    public static ColumnVector ConcatRanges(ColumnType type, IReadOnlyList<(ColumnVector Vector, int Start, int Count)> ranges)
    {
        if (ranges.Count == 1 && ranges[0].Start == 0 && ranges[0].Count == ranges[0].Vector.Length) return ranges[0].Vector;
        int total = 0, nulls = 0;
        foreach (var (v, start, count) in ranges)
        {
            total += count;
            if (v.NullCount > 0)
                for (int r = start; r < start + count; r++)
                    if (v.IsNull(r)) nulls++;
        }
        byte[]? validity = null;
        if (nulls > 0)
        {
            validity = AllValid(total);
            int at = 0;
            foreach (var (v, start, count) in ranges)
            {
                if (v.NullCount > 0)
                    for (int r = 0; r < count; r++)
                        if (v.IsNull(start + r)) validity[(at + r) >> 3] &= (byte)~(1 << ((at + r) & 7));
                at += count;
            }
        }
        if (ColumnTypes.IsBytes(type))
        {
            long bytes = 0;
            foreach (var (v, start, count) in ranges) bytes += v.Offsets[start + count] - v.Offsets[start];
            var data = GC.AllocateUninitializedArray<byte>(checked((int)bytes));
            var offsets = new int[total + 1];
            int at = 0, pos = 0;
            foreach (var (v, start, count) in ranges)
            {
                int baseOffset = v.Offsets[start], len = v.Offsets[start + count] - baseOffset;
                System.Array.Copy(v.Bytes, baseOffset, data, pos, len);
                for (int r = 0; r < count; r++) offsets[at + r] = pos + v.Offsets[start + r] - baseOffset;
                at += count;
                pos += len;
            }
            offsets[total] = pos;
            return OfBytes(type, offsets, data, validity, nulls);
        }
        if (type == ColumnType.Double)
        {
            var values = new double[total];
            int at = 0;
            foreach (var (v, start, count) in ranges) { System.Array.Copy(v.Doubles, start, values, at, count); at += count; }
            return OfDoubles(values, validity, nulls);
        }
        var longs = new long[total];
        int to = 0;
        foreach (var (v, start, count) in ranges) { System.Array.Copy(v.Longs, start, longs, to, count); to += count; }
        return OfLongs(type, longs, validity, nulls);
    }

    /// <summary>
    /// The rows <c>refs[start .. start+count)</c> of several vectors of one type, in that order, in a single
    /// copy; a ref is <c>(source index &lt;&lt; 32) | row</c>. A bulk seal builds the row groups of rows that
    /// arrived out of time order this way, instead of concatenating, sorting and slicing them.
    /// </summary>
    public static ColumnVector Gather(ColumnType type, IReadOnlyList<ColumnVector> sources, long[] refs, int start, int count)
    {
        byte[]? validity = null;
        int nulls = 0;
        for (int i = 0; i < count; i++)
        {
            long x = refs[start + i];
            if (!sources[(int)(x >> 32)].IsNull((int)x)) continue;
            validity ??= AllValid(count);
            validity[i >> 3] &= (byte)~(1 << (i & 7));
            nulls++;
        }
        if (ColumnTypes.IsBytes(type))
        {
            long total = 0;
            for (int i = 0; i < count; i++)
            {
                long x = refs[start + i];
                var v = sources[(int)(x >> 32)];
                total += v.Offsets[(int)x + 1] - v.Offsets[(int)x];
            }
            var data = GC.AllocateUninitializedArray<byte>(checked((int)total));
            var offsets = new int[count + 1];
            int pos = 0;
            for (int i = 0; i < count; i++)
            {
                long x = refs[start + i];
                var v = sources[(int)(x >> 32)];
                int from = v.Offsets[(int)x], len = v.Offsets[(int)x + 1] - from;
                offsets[i] = pos;
                System.Array.Copy(v.Bytes, from, data, pos, len);
                pos += len;
            }
            offsets[count] = pos;
            return OfBytes(type, offsets, data, validity, nulls);
        }
        if (type == ColumnType.Double)
        {
            var values = new double[count];
            for (int i = 0; i < count; i++) { long x = refs[start + i]; values[i] = sources[(int)(x >> 32)].Doubles[(int)x]; }
            return OfDoubles(values, validity, nulls);
        }
        var longs = new long[count];
        for (int i = 0; i < count; i++) { long x = refs[start + i]; longs[i] = sources[(int)(x >> 32)].Longs[(int)x]; }
        return OfLongs(type, longs, validity, nulls);
    }

    /// <summary>The rows <c>[start, start+count)</c> of this vector.</summary>
    public ColumnVector Slice(int start, int count)
    {
        if (start == 0 && count == Length) return this;
        var rows = new int[count];
        for (int i = 0; i < count; i++) rows[i] = start + i;
        return Select(rows, count);
    }

    /// <summary>The rows listed in <paramref name="rows"/> (the first <paramref name="count"/> entries).</summary>
    public ColumnVector Select(int[] rows, int count)
    {
        byte[]? validity = null;
        int nulls = 0;
        if (NullCount > 0)
        {
            for (int i = 0; i < count; i++)
            {
                if (!IsNull(rows[i])) continue;
                validity ??= AllValid(count);
                validity[i >> 3] &= (byte)~(1 << (i & 7));
                nulls++;
            }
        }
        if (ColumnTypes.IsBytes(Type))
        {
            var offsets = new int[count + 1];
            long total = 0;
            for (int i = 0; i < count; i++) total += Offsets[rows[i] + 1] - Offsets[rows[i]];
            var data = GC.AllocateUninitializedArray<byte>(checked((int)total));
            int pos = 0;
            for (int i = 0; i < count; i++)
            {
                int from = Offsets[rows[i]], len = Offsets[rows[i] + 1] - from;
                offsets[i] = pos;
                System.Array.Copy(Bytes, from, data, pos, len);
                pos += len;
            }
            offsets[count] = pos;
            return OfBytes(Type, offsets, data, validity, nulls);
        }
        if (Type == ColumnType.Double)
        {
            var values = new double[count];
            for (int i = 0; i < count; i++) values[i] = Doubles[rows[i]];
            return OfDoubles(values, validity, nulls);
        }
        var longs = new long[count];
        for (int i = 0; i < count; i++) longs[i] = Longs[rows[i]];
        return OfLongs(Type, longs, validity, nulls);
    }

    private static byte[] AllValid(int n)
    {
        var b = new byte[(n + 7) / 8];
        b.AsSpan().Fill(0xFF);
        return b;
    }
}
