using Apache.Arrow;
using TrafficStore.Engine.Catalog;

namespace TrafficStore.Engine.Columns;

/// <summary>Rows of one table as column vectors aligned with a schema version.</summary>
internal sealed class RowBlock
{
    public RowBlock(TableSchema schema, ColumnVector[] columns, int length)
    {
        Schema = schema;
        Columns = columns;
        Length = length;
    }

    public TableSchema Schema { get; }
    public ColumnVector[] Columns { get; }
    public int Length { get; }

    public long RawBytes => Columns.Sum(c => c.RawBytes);

    /// <summary>
    /// Converts an appended batch. Columns are matched by name; schema columns absent from the
    /// batch become nulls; a batch column the schema lacks, or of another type, is an error.
    /// </summary>
    public static RowBlock FromBatch(TableSchema schema, RecordBatch batch)
    {
        var columns = new ColumnVector?[schema.Count];
        for (int f = 0; f < batch.Schema.FieldsList.Count; f++)
        {
            var field = batch.Schema.FieldsList[f];
            int i = schema.IndexOf(field.Name);
            if (i < 0) throw new ArgumentException($"Column '{field.Name}' is not in the table schema (register the new column first).");
            var type = ColumnTypes.FromArrow(field.DataType);
            if (type != schema.Columns[i].Type)
                throw new ArgumentException($"Column '{field.Name}' is {ColumnTypes.Name(type)} but the table declares {ColumnTypes.Name(schema.Columns[i].Type)}.");
            columns[i] = ColumnVector.FromArrow(batch.Column(f), type);
        }
        for (int i = 0; i < columns.Length; i++) columns[i] ??= ColumnVector.Nulls(schema.Columns[i].Type, batch.Length);
        return new RowBlock(schema, columns!, batch.Length);
    }

    /// <summary>This block seen through a later schema version: added columns read as nulls.</summary>
    public RowBlock Conform(TableSchema target)
    {
        if (ReferenceEquals(target, Schema)) return this;
        if (target.SameColumns(Schema)) return new RowBlock(target, Columns, Length);
        var columns = new ColumnVector[target.Count];
        for (int i = 0; i < target.Count; i++)
        {
            int j = Schema.IndexOf(target.Columns[i].Name);
            columns[i] = j >= 0 ? Columns[j] : ColumnVector.Nulls(target.Columns[i].Type, Length);
        }
        return new RowBlock(target, columns, Length);
    }

    public static RowBlock Concat(TableSchema schema, IReadOnlyList<RowBlock> blocks, int[]? order = null)
    {
        var conformed = blocks.Select(b => b.Conform(schema)).ToList();
        int length = conformed.Sum(b => b.Length);
        var columns = new ColumnVector[schema.Count];
        for (int c = 0; c < schema.Count; c++)
            columns[c] = ColumnVector.Concat(schema.Columns[c].Type, conformed.Select(b => b.Columns[c]).ToList(), order);
        return new RowBlock(schema, columns, length);
    }

    /// <summary>Rows taken from ranges of blocks of one schema (see <see cref="ColumnVector.ConcatRanges"/>): one copy per column.</summary>
    public static RowBlock FromRanges(TableSchema schema, IReadOnlyList<(RowBlock Block, int Start, int Count)> ranges)
    {
        var columns = new ColumnVector[schema.Count];
        for (int c = 0; c < schema.Count; c++)
            columns[c] = ColumnVector.ConcatRanges(schema.Columns[c].Type, ranges.Select(r => (r.Block.Columns[c], r.Start, r.Count)).ToList());
        return new RowBlock(schema, columns, ranges.Sum(r => r.Count));
    }

    /// <summary>Rows <c>refs[start .. start+count)</c> of <paramref name="blocks"/> (see <see cref="ColumnVector.Gather"/>).</summary>
    public static RowBlock Gather(TableSchema schema, IReadOnlyList<RowBlock> blocks, long[] refs, int start, int count)
    {
        var columns = new ColumnVector[schema.Count];
        for (int c = 0; c < schema.Count; c++)
            columns[c] = ColumnVector.Gather(schema.Columns[c].Type, blocks.Select(b => b.Columns[c]).ToList(), refs, start, count);
        return new RowBlock(schema, columns, count);
    }

    public RowBlock Slice(int start, int count) =>
        new(Schema, Columns.Select(c => c.Slice(start, count)).ToArray(), count);

    public RowBlock Select(int[] rows, int count) =>
        new(Schema, Columns.Select(c => c.Select(rows, count)).ToArray(), count);

    public RecordBatch ToRecordBatch(IReadOnlyList<int> projection, int[]? rows = null, int count = -1)
    {
        int n = rows is null ? Length : count;
        var arrays = projection.Select(p => Columns[p].ToArrow(rows, n)).ToList();
        return new RecordBatch(Schema.ToArrow(projection), arrays, n);
    }
}
