using Apache.Arrow;
using Apache.Arrow.Types;

namespace TrafficStore.Ingest.Tables;

/// <summary>
/// Turns rows of a <see cref="TableDefinition{T}"/> into Arrow record batches. Timestamps and
/// durations are written as raw int64 nanoseconds (Arrow's DateTimeOffset-based builders would
/// round to 100 ns ticks).
/// </summary>
public sealed class ArrowBatchBuilder<T>
{
    private readonly TableDefinition<T> _table;

    public ArrowBatchBuilder(TableDefinition<T> table)
    {
        _table = table;
        Schema = ArrowSchemas.ToSchema(table);
    }

    public Schema Schema { get; }

    public RecordBatch Build(IReadOnlyList<T> rows)
    {
        var arrays = new IArrowArray[_table.Columns.Count];
        for (int i = 0; i < arrays.Length; i++) arrays[i] = BuildColumn(_table.Columns[i], rows);
        return new RecordBatch(Schema, arrays, rows.Count);
    }

    /// <summary>Splits <paramref name="rows"/> into batches of at most <paramref name="batchRows"/> rows.</summary>
    public IEnumerable<RecordBatch> BuildBatches(IReadOnlyList<T> rows, int batchRows = 65_536)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchRows, 1);
        for (int start = 0; start < rows.Count; start += batchRows)
        {
            int count = Math.Min(batchRows, rows.Count - start);
            yield return Build(new ListSlice(rows, start, count));
        }
    }

    private static IArrowArray BuildColumn(Column<T> c, IReadOnlyList<T> rows)
    {
        switch (c.Kind)
        {
            case ColumnKind.Int64:
            case ColumnKind.TimestampNs:
            case ColumnKind.DurationNs:
            {
                var values = new ArrowBuffer.Builder<long>(rows.Count);
                var validity = new ArrowBuffer.BitmapBuilder(rows.Count);
                int nulls = 0;
                foreach (var row in rows)
                {
                    long? v = c.GetInt64(row);
                    values.Append(v ?? 0);
                    validity.Append(v.HasValue);
                    if (!v.HasValue) nulls++;
                }
                var type = ArrowSchemas.ToArrowType(c.Kind);
                var data = new ArrayData(type, rows.Count, nulls, 0, new[] { validity.Build(), values.Build() });
                return ArrowArrayFactory.BuildArray(data);
            }
            case ColumnKind.Double:
            {
                var b = new DoubleArray.Builder();
                foreach (var row in rows) { if (c.GetDouble(row) is { } d) b.Append(d); else b.AppendNull(); }
                return b.Build();
            }
            case ColumnKind.String:
            {
                var b = new StringArray.Builder();
                foreach (var row in rows) { if (c.GetString(row) is { } s) b.Append(s); else b.AppendNull(); }
                return b.Build();
            }
            case ColumnKind.Boolean:
            {
                var b = new BooleanArray.Builder();
                foreach (var row in rows) { if (c.GetBoolean(row) is { } x) b.Append(x); else b.AppendNull(); }
                return b.Build();
            }
            case ColumnKind.Binary:
            {
                var b = new BinaryArray.Builder();
                foreach (var row in rows) { if (c.GetBinary(row) is { } m) b.Append(m.Span); else b.AppendNull(); }
                return b.Build();
            }
            default:
                throw new NotSupportedException($"column kind {c.Kind}");
        }
    }

    private sealed class ListSlice : IReadOnlyList<T>
    {
        private readonly IReadOnlyList<T> _list;
        private readonly int _start;

        public ListSlice(IReadOnlyList<T> list, int start, int count)
        {
            _list = list;
            _start = start;
            Count = count;
        }

        public T this[int index] => _list[_start + index];
        public int Count { get; }
        public IEnumerator<T> GetEnumerator()
        {
            for (int i = 0; i < Count; i++) yield return _list[_start + i];
        }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
