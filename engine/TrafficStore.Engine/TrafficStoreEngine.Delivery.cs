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
    // (a second connection of the same agent while the server still handles the first one). Striped by the source's
    // hash rather than one gate per source: a fixed set, so sources that come and go (or are invented) leave nothing
    // behind; two sources sharing a stripe only wait for each other's fsync.
    private readonly SemaphoreSlim[] _deliveryGates = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>
    /// Appends the rows of <paramref name="delivery"/> that the store does not have yet, durably, as
    /// <see cref="AppendAsync"/> does; <see cref="AppendResult.DuplicateRows"/> counts the rows skipped because
    /// they were stored before (all of them when the batch was). A source's batches must arrive in increasing
    /// <see cref="Delivery.Batch"/> order (and rows of one batch in increasing <see cref="Delivery.FirstRow"/>):
    /// a batch before the source's mark counts as stored. Gaps (batches never sent) are fine.
    /// <paramref name="ct"/> stops only the wait for another append of the same source: once the rows are
    /// handed to the WAL the call waits for their fsync, so the next attempt sees the mark they raise.
    /// </summary>
    /// <exception cref="DeliverySourceLimitException">A new source past <see cref="StoreOptions.MaxDeliverySources"/>; nothing stored.</exception>
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
        var gate = _deliveryGates[(int)((uint)StringComparer.Ordinal.GetHashCode(delivery.Source) % (uint)_deliveryGates.Length)];
        await gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (!_deliveries.TryAdmit(delivery.Source, _options.MaxDeliverySources, _options.DeliveryMarkMaxIdle))
                throw new DeliverySourceLimitException(delivery.Source, _options.MaxDeliverySources);
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
                // A new source whose append raised no mark (it failed, or had no rows) gives its place back.
                _deliveries.EndAdmission(delivery.Source);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>How far <paramref name="source"/>'s deliveries are stored, or null when nothing of it is.</summary>
    public DeliveryMark? DeliveredUpTo(string source) => _deliveries.Get(source);

    /// <summary>Sources with a delivery mark (at most <see cref="StoreOptions.MaxDeliverySources"/>).</summary>
    public int DeliverySources => _deliveries.Count;

    /// <summary>Delivery marks removed since open because their source was idle longer than <see cref="StoreOptions.DeliveryMarkMaxIdle"/>.</summary>
    public long ExpiredDeliverySources => _deliveries.Expired;
}
