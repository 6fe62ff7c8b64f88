using System.Collections.Concurrent;
using Apache.Arrow;
using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine;

/// <summary>
/// Exactly-once appends for producers that resend (a node agent whose acknowledgement was lost): each batch
/// names its <see cref="Delivery"/>, and rows a source already stored are skipped. The source's mark goes into
/// the same WAL record as the rows (<see cref="Wal.WalPayload"/> kind 2), so a crash keeps both or neither.
/// </summary>
public sealed partial class TrafficStoreEngine
{
    // One append at a time per source: the check and the append must not interleave with a resend of the same batch
    // (a second connection of the same agent while the server still handles the first one).
    private readonly ConcurrentDictionary<string, SemaphoreSlim> _deliveryGates = new(StringComparer.Ordinal);

    /// <summary>
    /// Appends the rows of <paramref name="delivery"/> that the store does not have yet, durably, as
    /// <see cref="AppendAsync"/> does; <see cref="AppendResult.DuplicateRows"/> counts the rows skipped because
    /// they were stored before (all of them when the batch was). A source's batches must arrive in increasing
    /// <see cref="Delivery.Batch"/> order (and rows of one batch in increasing <see cref="Delivery.FirstRow"/>):
    /// a batch before the source's mark counts as stored. Gaps (batches never sent) are fine.
    /// <paramref name="ct"/> stops only the wait for another append of the same source: once the rows are
    /// handed to the WAL the call waits for their fsync, so the next attempt sees the mark they raise.
    /// </summary>
    public async ValueTask<AppendResult> AppendOnceAsync(string table, RecordBatch batch, Delivery delivery, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentException.ThrowIfNullOrEmpty(delivery.Source);
        if (delivery.Source.Length > Delivery.MaxSourceLength) throw new ArgumentException($"A delivery source is at most {Delivery.MaxSourceLength} characters.");
        ArgumentOutOfRangeException.ThrowIfNegative(delivery.Batch);
        ArgumentOutOfRangeException.ThrowIfNegative(delivery.FirstRow);
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        var state = Table(table);
        var rows = RowBlock.FromBatch(state.Schema, batch);
        var gate = _deliveryGates.GetOrAdd(delivery.Source, _ => new SemaphoreSlim(1, 1));
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            int stored = (int)_deliveries.StoredRows(delivery, rows.Length);
            if (stored == rows.Length) return new AppendResult(_wal.LastAssignedSeq, 0) { DuplicateRows = stored };
            if (stored > 0) rows = RowBlock.FromRanges(rows.Schema, [(rows, stored, rows.Length - stored)]);
            var mark = new DeliveryMark(delivery.Batch, delivery.FirstRow + stored + rows.Length);
            var result = await AppendRowsAsync(state, rows, (delivery.Source, mark), CancellationToken.None).ConfigureAwait(false);
            return result with { DuplicateRows = stored };
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>How far <paramref name="source"/>'s deliveries are stored, or null when nothing of it is.</summary>
    public DeliveryMark? DeliveredUpTo(string source) => _deliveries.Get(source);

    /// <summary>Sources with a delivery mark.</summary>
    public int DeliverySources => _deliveries.Count;
}
