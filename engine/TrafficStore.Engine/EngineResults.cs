namespace TrafficStore.Engine;

/// <summary>Acknowledgement of a durable append: its WAL sequence number and row count.</summary>
public readonly record struct AppendResult(long Sequence, int Rows)
{
    /// <summary>Rows of a <see cref="TrafficStoreEngine.AppendOnceAsync"/> batch skipped because the store already had them.</summary>
    public int DuplicateRows { get; init; }
}

/// <summary>A segment that failed a checksum: moved to quarantine/ and never served.</summary>
public sealed record QuarantinedSegment(string Table, long SegmentId, string QuarantinePath, string Reason, long? MinTime, long? MaxTime, DateTimeOffset DetectedAt);

/// <summary>Per-table figures.</summary>
public sealed record TableStats(
    string Table, int SchemaVersion, long Rows, long SealedRows, long UnsealedRows, int Segments, int Partitions,
    long BytesOnDisk, long RawBytes, double CompressionRatio, long? MinTime, long? MaxTime);

/// <summary>Engine-wide figures returned by <see cref="TrafficStoreEngine.GetStats"/>.</summary>
public sealed record EngineStats(
    IReadOnlyDictionary<string, TableStats> Tables,
    long WalBytes,
    long WalCommits,
    long LastSequence,
    long SealedSequence,
    long IndexEntries,
    IReadOnlyList<QuarantinedSegment> Quarantined,
    long RetentionDeletedSegments,
    long RetentionRewrittenSegments,
    long RetentionDeletedRows,
    long RetentionDeletedBytes,
    long SegmentsRead,
    long RowGroupsRead,
    long Flushes)
{
    /// <summary>The decoded-chunk cache (<see cref="StoreOptions.ChunkCacheBytes"/>).</summary>
    public Query.ChunkCacheStats ChunkCache { get; init; } = Query.ChunkCacheStats.Off;
    /// <summary>Segment files no longer served and not yet deleted: replaced files a running query may read, and deletes that failed and wait for a retry.</summary>
    public int PendingSegmentDeletes { get; init; }
    /// <summary>Segment file deletes that failed with an I/O error (each is retried later; each failed attempt counts).</summary>
    public long FailedSegmentDeletes { get; init; }
}

/// <summary>Whether the store is serving everything it holds and taking writes.</summary>
public sealed record StoreHealth(bool Healthy, IReadOnlyList<QuarantinedSegment> Quarantined, IReadOnlyList<string> RecoveryNotes)
{
    /// <summary>
    /// Why the store refuses every write (its write-ahead log failed: a full or failing disk, a file it could not
    /// create); null while it takes writes. It stays until the store is reopened, so a probe on it restarts the server.
    /// </summary>
    public string? WriteFailure { get; init; }
}
