using Apache.Arrow;
using Apache.Arrow.Types;

namespace TrafficStore.Store.Query;

/// <summary>
/// Builds one record batch from chosen rows of several batches of the same schema (an Arrow "take"
/// across batches; Apache.Arrow for C# has no compute kernels). Covers the column types of the
/// store's tables: int64, double, utf8, bool, timestamp, duration and binary.
/// </summary>
public static class ArrowRowGather
{
    public static RecordBatch Gather(Schema schema, IReadOnlyList<(RecordBatch Batch, int Row)> rows)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(rows);
        var columns = new IArrowArray[schema.FieldsList.Count];
        for (int c = 0; c < columns.Length; c++)
            columns[c] = GatherColumn(schema.FieldsList[c].DataType, c, rows);
        return new RecordBatch(schema, columns, rows.Count);
    }

    private static IArrowArray GatherColumn(IArrowType type, int column, IReadOnlyList<(RecordBatch Batch, int Row)> rows)
    {
        switch (type.TypeId)
        {
            case ArrowTypeId.Int64:
            {
                var b = new Int64Array.Builder().Reserve(rows.Count);
                foreach (var (batch, row) in rows) b.Append(((Int64Array)batch.Column(column)).GetValue(row));
                return b.Build();
            }
            case ArrowTypeId.Double:
            {
                var b = new DoubleArray.Builder().Reserve(rows.Count);
                foreach (var (batch, row) in rows) b.Append(((DoubleArray)batch.Column(column)).GetValue(row));
                return b.Build();
            }
            case ArrowTypeId.Boolean:
            {
                var b = new BooleanArray.Builder().Reserve(rows.Count);
                foreach (var (batch, row) in rows) { var a = (BooleanArray)batch.Column(column); if (a.IsNull(row)) b.AppendNull(); else b.Append(a.GetValue(row)!.Value); }
                return b.Build();
            }
            case ArrowTypeId.Timestamp:
            case ArrowTypeId.Duration:
            {
                // Both are int64 values under another type: build the values, then retype the buffers.
                var b = new Int64Array.Builder().Reserve(rows.Count);
                foreach (var (batch, row) in rows)
                {
                    var a = (PrimitiveArray<long>)batch.Column(column);
                    if (a.IsNull(row)) b.AppendNull(); else b.Append(a.Values[row]);
                }
                var values = b.Build().Data;
                return ArrowArrayFactory.BuildArray(new ArrayData(type, values.Length, values.NullCount, 0, values.Buffers));
            }
            case ArrowTypeId.String:
            {
                var b = new StringArray.Builder().Reserve(rows.Count);
                foreach (var (batch, row) in rows)
                {
                    var a = (StringArray)batch.Column(column);
                    if (a.IsNull(row)) b.AppendNull(); else b.Append(a.GetBytes(row));
                }
                return b.Build();
            }
            case ArrowTypeId.Binary:
            {
                var b = new BinaryArray.Builder().Reserve(rows.Count);
                foreach (var (batch, row) in rows)
                {
                    var a = (BinaryArray)batch.Column(column);
                    if (a.IsNull(row)) b.AppendNull(); else b.Append(a.GetBytes(row));
                }
                return b.Build();
            }
            default:
                throw new NotSupportedException($"gathering rows of Arrow type {type.Name} is not supported");
        }
    }
}
