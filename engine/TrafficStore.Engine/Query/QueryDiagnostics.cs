namespace TrafficStore.Engine.Query;

/// <summary>Something a query could not fully serve, e.g. a quarantined segment in its range.</summary>
public sealed record QueryWarning(string Kind, string Message, string? SegmentPath = null)
{
    public const string CorruptSegment = "corrupt_segment";
    public const string QuarantinedSegmentInRange = "quarantined_segment_in_range";
}

/// <summary>What a query read and skipped; pass one to <see cref="TrafficStoreEngine.QueryAsync"/> to see how it ran.</summary>
public sealed class QueryDiagnostics
{
    private readonly List<QueryWarning> _warnings = [];
    public int SegmentsConsidered { get; internal set; }
    public int SegmentsSkippedByIndex { get; internal set; }
    /// <summary>Of <see cref="SegmentsSkippedByZoneMap"/>: ruled out by the zone maps of the whole segment, without checking its row groups.</summary>
    public int SegmentsSkippedWhole { get; internal set; }
    public int SegmentsSkippedByZoneMap { get; internal set; }
    public int SegmentsRead { get; internal set; }
    public int RowGroupsRead { get; internal set; }
    public int RowGroupsSkipped { get; internal set; }
    /// <summary>
    /// The most decoded row groups the query held at once: 1 unordered; with time order at most one per time-sorted run
    /// of the partition being read (a segment's row groups of the partition, normally), whatever the partition's size.
    /// </summary>
    public int MaxRowGroupsHeld { get; internal set; }
    public long RowsScanned { get; internal set; }
    public long UnsealedRowsScanned { get; internal set; }
    public long RowsReturned { get; internal set; }
    public bool UsedIndex { get; internal set; }
    /// <summary>Column chunks served from the decoded-chunk cache / read from disk (decompressed and CRC-checked).</summary>
    public int ChunksFromCache { get; internal set; }
    public int ChunksFromDisk { get; internal set; }
    /// <summary>Stored (compressed) and decoded bytes of the chunks read from disk.</summary>
    public long ChunkBytesStored { get; internal set; }
    public long ChunkBytesRaw { get; internal set; }
    public IReadOnlyList<QueryWarning> Warnings { get { lock (_warnings) return _warnings.ToList(); } }
    internal void Warn(QueryWarning warning) { lock (_warnings) _warnings.Add(warning); }
}

/// <summary>Rows and bytes a query would touch, split into groups a Flight endpoint can serve independently.</summary>
public sealed record QueryEstimate(long EstimatedRows, long EstimatedBytes, IReadOnlyList<SegmentGroup> Groups);

/// <summary>
/// One time partition of a query: its segments plus any unsealed rows in it. Partitions do not
/// overlap in time, so running <see cref="Narrow"/> for every group returns exactly the rows of the
/// original query (each group ordered by time when the query asks for it).
/// </summary>
public sealed record SegmentGroup(long PartitionStart, long PartitionEnd, IReadOnlyList<long> SegmentIds, long EstimatedRows, long Bytes, bool IncludesUnsealedRows)
{
    public QuerySpec Narrow(QuerySpec query) => query with
    {
        From = Math.Max(query.From ?? long.MinValue, PartitionStart),
        To = Math.Min(query.To ?? long.MaxValue, PartitionEnd),
    };
}
