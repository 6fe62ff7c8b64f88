using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Types;

namespace TrafficStore.Store.Query;

/// <summary>
/// "order by COL [desc] limit N" on a column other than the time column: the engine reads rows in
/// time order, this keeps the best N seen so far in a bounded heap and emits them in order at the end.
/// Memory is bounded by N rows: rows point into the batches they came from, and once too many batches
/// are held alive by a few rows each, the kept rows are gathered into one compact batch.
/// Order: ascending or descending on the column's value (strings by UTF-8 bytes, i.e. code points);
/// nulls last in both directions; equal values keep their time order.
/// </summary>
public static class TopRowsByColumn
{
    /// <summary>The largest limit accepted with a non-time order (the rows are held in memory).</summary>
    public const int MaxLimit = 10_000;

    /// <summary>Batches the kept rows may point into before they are gathered into one.</summary>
    private const int MaxHeldBatches = 16;

    private const int OutputBatchRows = 1024;

    /// <summary>Whether <paramref name="kind"/> can be ordered (everything but opaque bytes).</summary>
    public static bool CanOrder(ArrowTypeId kind) => kind is ArrowTypeId.Int64 or ArrowTypeId.Double or ArrowTypeId.String
        or ArrowTypeId.Boolean or ArrowTypeId.Timestamp or ArrowTypeId.Duration;

    public static async IAsyncEnumerable<RecordBatch> ApplyAsync(IAsyncEnumerable<RecordBatch> source, string column, bool descending, int limit,
        [EnumeratorCancellation] CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        var top = new Heap(column, descending, limit);
        await foreach (var batch in source.WithCancellation(ct).ConfigureAwait(false))
            top.Offer(batch);
        foreach (var output in top.Drain())
            yield return output;
    }

    /// <summary>A kept row: its key, arrival number (ties) and where its values are.</summary>
    private readonly record struct Kept(bool Null, long Int, double Real, byte[]? Text, long Seq, int Slot, int Row);

    private sealed class Heap
    {
        private readonly string _column;
        private readonly bool _descending;
        private readonly int _limit;
        private readonly PriorityQueue<Kept, Kept> _worstFirst;
        private readonly List<RecordBatch?> _slots = [];
        private readonly List<int> _slotRefs = [];
        private Schema? _schema;
        private ArrowTypeId _kind;
        private int _current = -1;
        private long _seq;
        private int _heldSlots;

        public Heap(string column, bool descending, int limit)
        {
            _column = column;
            _descending = descending;
            _limit = limit;
            _worstFirst = new PriorityQueue<Kept, Kept>(limit + 1, Comparer<Kept>.Create((a, b) => Better(b, a)));
        }

        public void Offer(RecordBatch batch)
        {
            if (_schema is null)
            {
                _schema = batch.Schema;
                _kind = batch.Schema.GetFieldByName(_column).DataType.TypeId;
            }
            if (batch.Length == 0) return;
            var keys = batch.Column(batch.Schema.GetFieldIndex(_column));
            _current = -1;
            for (int row = 0; row < batch.Length; row++)
            {
                long seq = _seq++;
                if (_worstFirst.Count == _limit && !BeatsWorst(keys, row, seq)) continue;
                if (_current < 0) _current = Hold(batch);
                var kept = KeyOf(keys, row, seq, _current);
                _slotRefs[_current]++;
                if (_worstFirst.Count < _limit) _worstFirst.Enqueue(kept, kept);
                else Release(_worstFirst.DequeueEnqueue(kept, kept).Slot);
            }
            // The batch being read is released only here: rows of it may be evicted while later rows are still added.
            if (_current >= 0 && _slotRefs[_current] == 0) Free(_current);
            _current = -1;
            if (_heldSlots > MaxHeldBatches) Compact();
        }

        public IEnumerable<RecordBatch> Drain()
        {
            if (_schema is null) yield break;
            var rows = new List<Kept>(_worstFirst.Count);
            while (_worstFirst.Count > 0) rows.Add(_worstFirst.Dequeue());
            rows.Reverse(); // dequeued worst first
            for (int start = 0; start < rows.Count; start += OutputBatchRows)
            {
                int n = Math.Min(OutputBatchRows, rows.Count - start);
                var picks = new (RecordBatch, int)[n];
                for (int i = 0; i < n; i++) picks[i] = (_slots[rows[start + i].Slot]!, rows[start + i].Row);
                yield return ArrowRowGather.Gather(_schema, picks);
            }
        }

        private int Hold(RecordBatch batch)
        {
            _slots.Add(batch);
            _slotRefs.Add(0);
            _heldSlots++;
            return _slots.Count - 1;
        }

        private void Release(int slot)
        {
            if (--_slotRefs[slot] == 0 && slot != _current) Free(slot);
        }

        private void Free(int slot)
        {
            _slots[slot] = null;
            _heldSlots--;
        }

        /// <summary>Gathers the kept rows into one batch so the batches they came from can be collected.</summary>
        private void Compact()
        {
            var kept = new List<Kept>(_worstFirst.Count);
            while (_worstFirst.Count > 0) kept.Add(_worstFirst.Dequeue());
            var picks = new (RecordBatch, int)[kept.Count];
            for (int i = 0; i < kept.Count; i++) picks[i] = (_slots[kept[i].Slot]!, kept[i].Row);
            var compact = ArrowRowGather.Gather(_schema!, picks);
            _slots.Clear();
            _slotRefs.Clear();
            _heldSlots = 0;
            int slot = Hold(compact);
            for (int i = 0; i < kept.Count; i++)
            {
                var k = kept[i] with { Slot = slot, Row = i };
                _worstFirst.Enqueue(k, k);
            }
            _slotRefs[slot] = kept.Count;
        }

        /// <summary>Whether a row would come before the worst kept one; reads its key without copying it.</summary>
        private bool BeatsWorst(IArrowArray keys, int row, long seq)
        {
            if (keys.IsNull(row)) return Compare(true, 0, 0, default, seq, _worstFirst.Peek()) < 0;
            return keys switch
            {
                StringArray s => Compare(false, 0, 0, s.GetBytes(row), seq, _worstFirst.Peek()) < 0,
                DoubleArray d => Compare(false, 0, d.GetValue(row)!.Value, default, seq, _worstFirst.Peek()) < 0,
                _ => Compare(false, IntOf(keys, row), 0, default, seq, _worstFirst.Peek()) < 0,
            };
        }

        private static Kept KeyOf(IArrowArray keys, int row, long seq, int slot)
        {
            if (keys.IsNull(row)) return new Kept(true, 0, 0, null, seq, slot, row);
            return keys switch
            {
                StringArray s => new Kept(false, 0, 0, s.GetBytes(row).ToArray(), seq, slot, row),
                DoubleArray d => new Kept(false, 0, d.GetValue(row)!.Value, null, seq, slot, row),
                _ => new Kept(false, IntOf(keys, row), 0, null, seq, slot, row),
            };
        }

        private static long IntOf(IArrowArray keys, int row) => keys switch
        {
            Int64Array a => a.GetValue(row)!.Value,
            TimestampArray a => a.GetValue(row)!.Value,
            DurationArray a => a.GetValue(row)!.Value,
            BooleanArray a => a.GetValue(row)!.Value ? 1 : 0,
            _ => throw new NotSupportedException($"cannot order by a column of type {keys.Data.DataType.Name}"),
        };

        private int Better(Kept a, Kept b) => Compare(a.Null, a.Int, a.Real, a.Text, a.Seq, b);

        /// <summary>Result order as a comparison: negative when the key (null?, value, arrival) comes before <paramref name="b"/>.</summary>
        private int Compare(bool isNull, long intValue, double realValue, ReadOnlySpan<byte> text, long seq, in Kept b)
        {
            if (isNull || b.Null)
            {
                if (isNull && b.Null) return seq.CompareTo(b.Seq);
                return isNull ? 1 : -1; // nulls last
            }
            int c = _kind switch
            {
                ArrowTypeId.String => text.SequenceCompareTo(b.Text),
                ArrowTypeId.Double => TotalOrder(realValue, b.Real),
                _ => intValue.CompareTo(b.Int),
            };
            if (_descending) c = -c;
            return c != 0 ? c : seq.CompareTo(b.Seq);
        }

        /// <summary>Doubles in a total order: NaN after every number.</summary>
        private static int TotalOrder(double a, double b) =>
            double.IsNaN(a) ? (double.IsNaN(b) ? 0 : 1) : double.IsNaN(b) ? -1 : a.CompareTo(b);
    }
}
