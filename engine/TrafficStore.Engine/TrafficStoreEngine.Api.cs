using System.Runtime.CompilerServices;
using Apache.Arrow;
using TrafficStore.Engine.Query;
using TrafficStore.Engine.Retention;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine;

public sealed partial class TrafficStoreEngine
{
    private QueryExecutor? _executor;
    private QueryExecutor Executor => _executor ??= new QueryExecutor(this, _index, _sealer);
    private DecodedChunkCache? _chunkCache;
    /// <summary>Decoded chunks kept between queries (<see cref="StoreOptions.ChunkCacheBytes"/>; off when 0).</summary>
    internal DecodedChunkCache ChunkCache =>
        _chunkCache ?? Interlocked.CompareExchange(ref _chunkCache, new DecodedChunkCache(_options.ChunkCacheBytes), null) ?? _chunkCache!;

    /// <summary>
    /// Streams the rows matching <paramref name="query"/> as record batches (at most one row group or
    /// <see cref="QuerySpec.MaxBatchRows"/> at a time), sealed segments first, then unsealed rows;
    /// with <see cref="QuerySpec.OrderByTime"/> in ascending time order.
    /// Pass <paramref name="diagnostics"/> to learn what was read and skipped and any warnings
    /// (a quarantined or newly found corrupt segment).
    /// </summary>
    public IAsyncEnumerable<RecordBatch> QueryAsync(QuerySpec query, QueryDiagnostics? diagnostics = null, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        return Executor.RunAsync(query, diagnostics ?? new QueryDiagnostics(), ct);
    }

    /// <summary>Streams the rows matching <paramref name="query"/>; see the overload taking <see cref="QueryDiagnostics"/>.</summary>
    public IAsyncEnumerable<RecordBatch> QueryAsync(QuerySpec query, CancellationToken ct) => QueryAsync(query, null, ct);

    /// <summary>The Arrow schema a query returns (its projection of the current table schema).</summary>
    public Schema QuerySchema(QuerySpec query)
    {
        var schema = TableState(query.Table).Schema;
        var projection = (query.Columns ?? schema.Columns.Select(c => c.Name).ToList()).Select(c =>
            schema.IndexOf(c) is int i and >= 0 ? i : throw new ArgumentException($"Unknown column '{c}' in projection.")).ToList();
        return schema.ToArrow(projection);
    }

    /// <summary>Rows and bytes a query would read (from footers and zone maps, no data read), in per-partition groups.</summary>
    public ValueTask<QueryEstimate> EstimateAsync(QuerySpec query, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Executor.Estimate(query));
    }

    /// <summary>The policy in force (loaded from retention.json on open).</summary>
    public RetentionPolicy RetentionPolicy => Volatile.Read(ref _retention);

    /// <summary>Replaces the retention policy and persists it; it is applied on the next background run or <see cref="ApplyRetentionAsync"/>.</summary>
    public async Task SetRetentionPolicyAsync(RetentionPolicy policy, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(policy);
        await _maintenance.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            RetentionPolicyFile.Save(Layout.RetentionFile, policy);
            Volatile.Write(ref _retention, policy);
        }
        finally { _maintenance.Release(); }
    }

    /// <summary>Applies the retention policy now; every deletion is logged, raised as <see cref="RetentionApplied"/> and counted in stats.</summary>
    public async Task<RetentionReport> ApplyRetentionAsync(CancellationToken ct = default)
    {
        await _maintenance.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var policy = RetentionPolicy;
            var now = _options.Clock.GetUtcNow();
            var report = await Task.Run(() => new RetentionEnforcer(this, _sealer).Apply(policy, now, ct), ct).ConfigureAwait(false);
            if (report.Actions.Count > 0)
                RetentionTotalsFile.Save(Layout.RetentionTotalsFile, new RetentionTotals(
                    Interlocked.Read(ref _retentionDeletedSegments), Interlocked.Read(ref _retentionRewrittenSegments),
                    Interlocked.Read(ref _retentionDeletedRows), Interlocked.Read(ref _retentionDeletedBytes)));
            return report;
        }
        finally { _maintenance.Release(); }
    }

    // ------------------------------------------------------------------ internals used by Query/ and Retention/

    internal TableState TableState(string name) => Table(name);

    private readonly ReplacedSegmentFiles _replacedFiles = new();

    /// <summary>Files of segments a rewrite replaced that a running query may still read.</summary>
    internal ReplacedSegmentFiles ReplacedFiles => _replacedFiles;

    /// <summary>The index (tests check that retention leaves no posting of a deleted partition).</summary>
    internal Index.SegmentIndex Index => _index;

    internal IEnumerable<TableState> AllTableStates() => _tables.Values;

    /// <summary>Stops serving a segment and deletes its file. False if it was already gone.</summary>
    internal bool RemoveSegment(TableState table, SegmentHandle handle)
    {
        bool removed = false;
        table.Update(s =>
        {
            removed = s.Segments.ContainsKey(handle.Id);
            return removed ? s with { Segments = s.Segments.Remove(handle.Id) } : s;
        });
        if (!removed) return false;
        _index.Remove(handle.Footer);
        ChunkCache.Invalidate(handle.Id);
        PieceDictionaryCache.Shared.Invalidate(handle.Footer);
        // The files it replaced go before the file that names them. If one of those deletes failed, this file waits
        // behind it in the deferred deletes (a crash meanwhile serves its expired rows again until retention runs; it
        // never brings back a replaced file, whose rows the replacement holds too).
        if (handle.Footer.Replaces != 0 && !_replacedFiles.DeleteChain(handle.Footer.Replaces))
        {
            _replacedFiles.Retire(handle);
            return true;
        }
        try
        {
            PartitionDirectories.DeleteSegmentFile(handle.Path); // open readers keep their handle; the file disappears when they close
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _replacedFiles.Retire(handle); // tried again with the deferred deletes (logged and counted there)
        }
        return true;
    }

    /// <summary>Swaps a segment for its rewritten replacements; the old file goes once no query started before the swap runs (<see cref="ReplacedSegmentFiles"/>).</summary>
    internal void ReplaceSegment(TableState table, SegmentHandle old, IReadOnlyList<SegmentHandle> replacements)
    {
        table.Update(s =>
        {
            var segs = s.Segments.Remove(old.Id);
            foreach (var r in replacements) segs = segs.Add(r.Id, r);
            return s with { Segments = segs };
        });
        _index.Remove(old.Footer);
        ChunkCache.Invalidate(old.Id);
        PieceDictionaryCache.Shared.Invalidate(old.Footer); // a query still reading the old file loads what it needs again
        foreach (var r in replacements) _index.Add(r.Footer);
        _replacedFiles.Retire(old); // deleted once no query that may read it is running
        Interlocked.Increment(ref _retentionRewrittenSegments);
    }

    internal void OnRetention(RetentionAction action)
    {
        if (action.Kind == RetentionActionKind.DeletedSegment) Interlocked.Increment(ref _retentionDeletedSegments);
        Interlocked.Add(ref _retentionDeletedRows, action.RowsDeleted);
        Interlocked.Add(ref _retentionDeletedBytes, action.BytesFreed);
        _options.Log?.Invoke(StoreLogLevel.Information,
            $"Retention {action.Kind} table={action.Table} segment={action.SegmentId} partition={StoreLayout.PartitionName(action.PartitionStart)} " +
            $"namespace={action.Namespace ?? "*"} rows={action.RowsDeleted} bytes={action.BytesFreed}: {action.Reason}");
        RetentionApplied?.Invoke(action);
    }
}
