using Apache.Arrow;
using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Query;

/// <summary>
/// Collects rows taken from several runs' current row groups, in merge order, and turns them into one record
/// batch bounded like any other (<see cref="QuerySpec.MaxBatchRows"/>, <see cref="QuerySpec.MaxBatchBytes"/>).
/// Rows are kept as references (run, row) and copied once, per projected column, when the batch is taken; the
/// caller takes the batch before a run replaces the row group it references.
/// </summary>
internal sealed class MergedBatch
{
    private readonly QueryPlan _plan;
    private readonly RowBlock?[] _blocks;
    private readonly int[] _byteColumns;
    private readonly long _fixedPerRow;
    private long[] _refs;
    private long _bytes;
    private Schema? _arrowSchema;

    public MergedBatch(QueryPlan plan, int runs)
    {
        _plan = plan;
        _blocks = new RowBlock?[runs];
        _byteColumns = plan.Projection.Where(p => ColumnTypes.IsBytes(plan.Schema.Columns[p].Type)).ToArray();
        // The same accounting as QueryExecutor.Emit: 8 bytes per fixed-width value plus the string/binary bytes.
        _fixedPerRow = 8L * (plan.Projection.Length - _byteColumns.Length);
        _refs = new long[Math.Clamp(plan.Spec.MaxBatchRows, 1, 1024)];
    }

    public int Count { get; private set; }

    public long RowBytes(RowBlock block, int row)
    {
        long bytes = _fixedPerRow;
        foreach (int c in _byteColumns) bytes += block.Columns[c].Offsets[row + 1] - block.Columns[c].Offsets[row];
        return bytes;
    }

    /// <summary>Whether a row of <paramref name="rowBytes"/> still fits (a batch takes at least one row, however large).</summary>
    public bool Fits(long rowBytes) =>
        Count == 0 || (Count < _plan.Spec.MaxBatchRows && _bytes + rowBytes <= _plan.Spec.MaxBatchBytes);

    public void Add(int run, RowBlock block, int row, long rowBytes)
    {
        _blocks[run] = block;
        if (Count == _refs.Length) System.Array.Resize(ref _refs, Math.Min(_refs.Length * 2, Math.Max(_plan.Spec.MaxBatchRows, 1)));
        _refs[Count++] = ((long)run << 32) | (uint)row;
        _bytes += rowBytes;
    }

    /// <summary>The rows added since the last call as a record batch (gathered per projected column); empties the batch.</summary>
    public RecordBatch Take()
    {
        var projection = _plan.Projection;
        var arrays = new IArrowArray[projection.Length];
        var vectors = new ColumnVector[_blocks.Length];
        for (int k = 0; k < projection.Length; k++)
        {
            int p = projection[k];
            // Runs with no row in this batch have no block here; Gather never looks at them.
            for (int s = 0; s < _blocks.Length; s++) vectors[s] = _blocks[s]?.Columns[p]!;
            arrays[k] = ColumnVector.Gather(_plan.Schema.Columns[p].Type, vectors, _refs, 0, Count).ToArrow();
        }
        var batch = new RecordBatch(_arrowSchema ??= _plan.Schema.ToArrow(projection), arrays, Count);
        Count = 0;
        _bytes = 0;
        System.Array.Clear(_blocks);
        return batch;
    }
}
