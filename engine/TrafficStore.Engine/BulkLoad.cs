using System.Threading.Channels;
using Apache.Arrow;
using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine;

/// <summary>Settings of a <see cref="BulkLoad"/>.</summary>
public sealed record BulkLoadOptions
{
    /// <summary>A table's buffered rows are sealed once their raw size reaches this (one seal unit).</summary>
    public long SealBytes { get; init; } = 128L << 20;
    /// <summary>All tables' buffered rows together: beyond this the biggest table is sealed early.</summary>
    public long MaxBufferedBytes { get; init; } = 192L << 20;
    /// <summary>Seal units waiting for the sealing task before <see cref="BulkLoad.AddAsync"/> waits (bounds memory).</summary>
    public int QueuedSeals { get; init; } = 1;
    /// <summary>
    /// Called on the sealing task after each unit is durable: every batch of <see cref="BulkSealed.Table"/>
    /// numbered up to <see cref="BulkSealed.UpToBatch"/> is then acknowledged.
    /// </summary>
    public Action<BulkSealed>? Sealed { get; init; }
}

/// <summary>One durable seal unit of a bulk load: the batches of one table up to a batch number.</summary>
public sealed record BulkSealed(string Table, long UpToBatch, long Rows, int Segments);

/// <summary>What a completed bulk load stored.</summary>
public sealed record BulkLoadResult(IReadOnlyDictionary<string, long> RowsByTable, int SealUnits, int Segments);

/// <summary>
/// Loads many rows without the WAL: batches are buffered per table and sealed into segments on a
/// second task (compression and writing overlap the caller), each table's buffer once it reaches
/// <see cref="BulkLoadOptions.SealBytes"/> and everything left at <see cref="CompleteAsync"/>.
/// <para>
/// <b>Acknowledgement.</b> <see cref="AddAsync"/> returns a batch number; that batch is acknowledged —
/// durable across kill -9 and power loss, and visible to queries — once a <see cref="BulkSealed"/> for
/// its table with <c>UpToBatch</c> ≥ the number has been reported, or once <see cref="CompleteAsync"/>
/// has returned. A seal unit is atomic (all its segments or none after a crash, see
/// <c>TrafficStoreEngine.SealBulkAsync</c>); batches not yet acknowledged may be lost whole by a crash,
/// never in part. Disposing without completing drops the batches not yet handed to the sealing task.
/// </para>
/// Not thread-safe: one caller adds batches.
/// </summary>
public sealed class BulkLoad : IAsyncDisposable
{
    private readonly TrafficStoreEngine _engine;
    private readonly BulkLoadOptions _options;
    private readonly Dictionary<string, Buffer> _buffers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _rows = new(StringComparer.Ordinal);
    private readonly Channel<Buffer> _queue;
    private readonly Task _sealing;
    private long _nextBatch, _buffered;
    private int _units, _segments;
    private bool _completed;

    internal BulkLoad(TrafficStoreEngine engine, BulkLoadOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.SealBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueuedSeals, 1);
        _engine = engine;
        _options = options;
        _queue = Channel.CreateBounded<Buffer>(new BoundedChannelOptions(options.QueuedSeals) { SingleReader = true, SingleWriter = true });
        _sealing = Task.Run(SealLoopAsync);
    }

    /// <summary>Completes when the sealing task has ended (completed, disposed or failed).</summary>
    internal Task SealingFinished => _sealing;

    /// <summary>Rows handed to this bulk load so far, per table.</summary>
    public IReadOnlyDictionary<string, long> RowsByTable => _rows;

    /// <summary>
    /// Buffers a batch (converted right away; the caller may reuse nothing of it afterwards); waits while
    /// the sealing task is behind. Returns the batch's number (see the class remarks for when it is acknowledged).
    /// </summary>
    public async ValueTask<long> AddAsync(string table, RecordBatch batch, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_completed) throw new InvalidOperationException("The bulk load is complete.");
        ThrowIfSealingFailed();
        var (state, rows) = _engine.PrepareBulk(table, batch);
        long number = ++_nextBatch;
        if (rows.Length == 0) return number;
        if (!_buffers.TryGetValue(table, out var buffer)) _buffers[table] = buffer = new Buffer(state);
        buffer.Blocks.Add(rows);
        buffer.Bytes += rows.RawBytes;
        buffer.Rows += rows.Length;
        buffer.UpToBatch = number;
        _buffered += rows.RawBytes;
        _rows[table] = _rows.GetValueOrDefault(table) + rows.Length;
        if (buffer.Bytes >= _options.SealBytes) await SendAsync(table, ct).ConfigureAwait(false);
        else if (_buffered >= _options.MaxBufferedBytes)
            await SendAsync(_buffers.MaxBy(kv => kv.Value.Bytes).Key, ct).ConfigureAwait(false);
        return number;
    }

    /// <summary>Seals everything buffered and returns once all of it is durable and visible.</summary>
    public async Task<BulkLoadResult> CompleteAsync(CancellationToken ct = default)
    {
        if (!_completed)
        {
            foreach (var table in _buffers.Keys.ToList()) await SendAsync(table, ct).ConfigureAwait(false);
            _completed = true;
            _queue.Writer.TryComplete();
        }
        await _sealing.ConfigureAwait(false);
        return new BulkLoadResult(new Dictionary<string, long>(_rows, StringComparer.Ordinal), _units, _segments);
    }

    private async ValueTask SendAsync(string table, CancellationToken ct)
    {
        var buffer = _buffers[table];
        _buffers.Remove(table);
        _buffered -= buffer.Bytes;
        await _queue.Writer.WriteAsync(buffer, ct).ConfigureAwait(false);
    }

    private async Task SealLoopAsync()
    {
        try
        {
            await foreach (var buffer in _queue.Reader.ReadAllAsync().ConfigureAwait(false))
            {
                int segments = await _engine.SealBulkAsync(buffer.Table, buffer.Blocks, CancellationToken.None).ConfigureAwait(false);
                _units++;
                _segments += segments;
                _options.Sealed?.Invoke(new BulkSealed(buffer.Table.Name, buffer.UpToBatch, buffer.Rows, segments));
            }
        }
        catch (Exception e)
        {
            // Stop accepting: the adder sees this failure on its next call (and CompleteAsync rethrows it).
            _queue.Writer.TryComplete(e);
            throw;
        }
    }

    private void ThrowIfSealingFailed()
    {
        if (_sealing.IsFaulted) _sealing.GetAwaiter().GetResult();
    }

    public async ValueTask DisposeAsync()
    {
        _completed = true;
        _buffers.Clear();
        _queue.Writer.TryComplete();
        try { await _sealing.ConfigureAwait(false); }
        catch (Exception e)
        {
            // Also seen by the caller of AddAsync/CompleteAsync if it was still adding; logged so it is never lost.
            _engine.Options.Log?.Invoke(StoreLogLevel.Error, $"Bulk load sealing failed: {e}");
        }
    }

    private sealed class Buffer(TableState table)
    {
        public TableState Table { get; } = table;
        public List<RowBlock> Blocks { get; } = [];
        public long Bytes { get; set; }
        public long Rows { get; set; }
        public long UpToBatch { get; set; }
    }
}
