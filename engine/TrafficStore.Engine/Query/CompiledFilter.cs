using System.Runtime.CompilerServices;
using System.Text;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Query;

/// <summary>A <see cref="ColumnFilter"/> bound to a column of a schema, with its value(s) in the column's lane.</summary>
internal sealed class CompiledFilter
{
    public CompiledFilter(TableSchema schema, ColumnFilter filter)
    {
        if (filter.Op == FilterOp.AnyOf)
        {
            AnyOf = (filter.Any ?? throw new ArgumentException("AnyOf filter needs alternatives.")).Select(f => new CompiledFilter(schema, f)).ToArray();
            if (AnyOf.Length == 0) throw new ArgumentException("AnyOf filter needs alternatives.");
            Column = -1;
            Name = "(" + string.Join(" or ", AnyOf.Select(a => a.Name)) + ")";
            Op = FilterOp.AnyOf;
            return;
        }
        Column = schema.IndexOf(filter.Column);
        if (Column < 0) throw new ArgumentException($"Filter on unknown column '{filter.Column}'.");
        Name = filter.Column;
        Type = schema.Columns[Column].Type;
        Op = filter.Op;
        var raw = filter.Op == FilterOp.In
            ? filter.Values ?? throw new ArgumentException($"In filter on '{filter.Column}' needs Values.")
            : [filter.Value ?? throw new ArgumentException($"Filter on '{filter.Column}' needs a value (nulls never match).")];
        if (Op == FilterOp.Prefix && !ColumnTypes.IsBytes(Type)) throw new ArgumentException($"Prefix filter needs a utf8 or binary column; '{Name}' is {ColumnTypes.Name(Type)}.");
        if (ColumnTypes.IsBytes(Type)) BytesValues = raw.Select(v => ToBytes(v)).ToArray();
        else if (Type == ColumnType.Double) DoubleValues = raw.Select(ToDouble).ToArray();
        else LongValues = raw.Select(v => ToLong(Type, v)).ToArray();
        if (Op == FilterOp.In)
        {
            if (LongValues is not null) LongSet = [.. LongValues];
            if (BytesValues is not null) TextSet = new HashSet<string>(BytesValues.Select(b => Convert.ToBase64String(b)));
        }
    }

    /// <summary>The alternatives of an OR group (then <see cref="Column"/> is -1); null for a plain filter.</summary>
    public CompiledFilter[]? AnyOf { get; }
    public int Column { get; }
    public string Name { get; }
    public ColumnType Type { get; }
    public FilterOp Op { get; }
    public long[]? LongValues { get; }
    public double[]? DoubleValues { get; }
    public byte[][]? BytesValues { get; }
    private HashSet<long>? LongSet { get; }
    private HashSet<string>? TextSet { get; }

    /// <summary>Index keys (see <see cref="SegmentWriter.IndexKeyText"/>) for equality / in-list filters; null otherwise.</summary>
    public IReadOnlyList<string>? IndexKeys => AnyOf is null && Op is FilterOp.Eq or FilterOp.In && Type is ColumnType.Utf8 or ColumnType.Int64
        ? (Type == ColumnType.Utf8
            ? BytesValues!.Select(b => Encoding.UTF8.GetString(b)).ToList()
            : LongValues!.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList())
        : null;

    private static long ToLong(ColumnType type, object v) => v switch
    {
        long l => l,
        int i => i,
        short s => s,
        byte b => b,
        uint u => u,
        ulong ul => checked((long)ul),
        bool b => b ? 1 : 0,
        DateTimeOffset d => QuerySpec.ToNs(d),
        DateTime d => QuerySpec.ToNs(new DateTimeOffset(d.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(d, DateTimeKind.Utc) : d.ToUniversalTime())),
        TimeSpan t => checked(t.Ticks * 100),
        _ => throw new ArgumentException($"A {v.GetType().Name} cannot be compared with a {ColumnTypes.Name(type)} column."),
    };

    private static double ToDouble(object v) => v switch
    {
        double d => d,
        float f => f,
        long l => l,
        int i => i,
        decimal m => (double)m,
        _ => throw new ArgumentException($"A {v.GetType().Name} cannot be compared with a double column."),
    };

    private static byte[] ToBytes(object v) => v switch
    {
        string s => Encoding.UTF8.GetBytes(s),
        byte[] b => b,
        ReadOnlyMemory<byte> m => m.ToArray(),
        _ => throw new ArgumentException($"A {v.GetType().Name} cannot be compared with a utf8/binary column."),
    };

    /// <summary>False when the zone map proves no row of the chunk can match.</summary>
    public bool MayMatch(ChunkInfo chunk, int rowCount)
    {
        if (chunk.NullCount == rowCount) return false; // nulls never match
        var zone = chunk.Zone;
        if (!zone.Present) return true;
        if (LongValues is not null) return MayMatch(zone.MinLong, zone.MaxLong, LongValues, (a, b) => a.CompareTo(b));
        if (DoubleValues is not null) return MayMatch(zone.MinDouble, zone.MaxDouble, DoubleValues, (a, b) => a.CompareTo(b));
        if (zone.MinBytes is null || zone.MaxBytes is null) return true;
        if (Op == FilterOp.Prefix)
        {
            var p = BytesValues![0];
            // Any value with prefix p lies in [p, p\xFF\xFF...]: compare the zone's ends truncated to |p|.
            var min = zone.MinBytes.AsSpan(0, Math.Min(p.Length, zone.MinBytes.Length));
            var max = zone.MaxBytes.AsSpan(0, Math.Min(p.Length, zone.MaxBytes.Length));
            return max.SequenceCompareTo(p) >= 0 && min.SequenceCompareTo(p) <= 0;
        }
        return MayMatch(zone.MinBytes, zone.MaxBytes, BytesValues!, (a, b) => a.AsSpan().SequenceCompareTo(b));
    }

    /// <summary>
    /// <see cref="MayMatch(ChunkInfo, int)"/> for a long-lane zone [<paramref name="min"/>, <paramref name="max"/>] present
    /// with some non-null value, without delegates: the planner runs it for every segment of a query without a time window.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool MayMatchLongs(long min, long max)
    {
        var values = LongValues!;
        long v = values[0];
        switch (Op)
        {
            case FilterOp.Eq: return v >= min && v <= max;
            case FilterOp.In:
                foreach (long x in values)
                    if (x >= min && x <= max) return true;
                return false;
            case FilterOp.NotEq: return !(min == v && max == v);
            case FilterOp.Lt: return min < v;
            case FilterOp.Le: return min <= v;
            case FilterOp.Gt: return max > v;
            case FilterOp.Ge: return max >= v;
            default: return true;
        }
    }

    private bool MayMatch<T>(T min, T max, T[] values, Func<T, T, int> compare)
    {
        var v = values[0];
        return Op switch
        {
            FilterOp.Eq => compare(v, min) >= 0 && compare(v, max) <= 0,
            FilterOp.In => AnyInRange(min, max, values, compare),
            FilterOp.NotEq => !(compare(min, v) == 0 && compare(max, v) == 0),
            FilterOp.Lt => compare(min, v) < 0,
            FilterOp.Le => compare(min, v) <= 0,
            FilterOp.Gt => compare(max, v) > 0,
            FilterOp.Ge => compare(max, v) >= 0,
            _ => true,
        };
    }

    // Loops rather than LINQ with lambdas: planning runs these for every row group of every segment in range, and a
    // lambda capturing a parameter allocates its closure on every call, whichever branch runs.
    private static bool AnyInRange<T>(T min, T max, T[] values, Func<T, T, int> compare)
    {
        foreach (var x in values)
            if (compare(x, min) >= 0 && compare(x, max) <= 0) return true;
        return false;
    }

    /// <summary>False when zone maps prove no row of the row group can match (an OR group: no alternative can).</summary>
    public bool MayMatch(in RowGroupChunks chunks, int rowCount)
    {
        if (AnyOf is not null)
        {
            foreach (var a in AnyOf)
                if (a.MayMatch(chunks, rowCount)) return true;
            return false;
        }
        var chunk = chunks.Of(Column);
        return chunk is not null && MayMatch(chunk, rowCount); // a column added after the segment was written is all null
    }

    /// <summary>Clears <paramref name="keep"/>[i] for every row that does not match; <paramref name="column"/> reads a table column.</summary>
    public void Apply(Func<int, ColumnVector> column, bool[] keep)
    {
        if (AnyOf is null)
        {
            Apply(column(Column), keep);
            return;
        }
        var any = new bool[keep.Length];
        var trial = new bool[keep.Length];
        foreach (var alternative in AnyOf)
        {
            Array.Copy(keep, trial, keep.Length);
            alternative.Apply(column, trial);
            for (int i = 0; i < any.Length; i++) any[i] |= trial[i];
        }
        Array.Copy(any, keep, keep.Length);
    }

    /// <summary>Clears <paramref name="keep"/>[i] for every row that does not match.</summary>
    public void Apply(ColumnVector v, bool[] keep)
    {
        for (int i = 0; i < v.Length; i++)
        {
            if (!keep[i]) continue;
            if (v.IsNull(i)) { keep[i] = false; continue; }
            keep[i] = Matches(v, i);
        }
    }

    private bool Matches(ColumnVector v, int i)
    {
        if (LongValues is not null)
        {
            long x = v.Longs[i];
            return Op == FilterOp.In ? LongSet!.Contains(x) : Compare(x.CompareTo(LongValues[0]));
        }
        if (DoubleValues is not null)
        {
            double x = v.Doubles[i];
            if (double.IsNaN(x)) return Op == FilterOp.NotEq;
            return Op == FilterOp.In ? DoubleValues.Contains(x) : Compare(x.CompareTo(DoubleValues[0]));
        }
        var b = v.GetBytes(i);
        return Op switch
        {
            FilterOp.Prefix => b.StartsWith(BytesValues![0]),
            FilterOp.In => TextSet!.Contains(Convert.ToBase64String(b)),
            _ => Compare(b.SequenceCompareTo(BytesValues![0])),
        };
    }

    private bool Compare(int c) => Op switch
    {
        FilterOp.Eq => c == 0,
        FilterOp.NotEq => c != 0,
        FilterOp.Lt => c < 0,
        FilterOp.Le => c <= 0,
        FilterOp.Gt => c > 0,
        FilterOp.Ge => c >= 0,
        _ => false,
    };
}
