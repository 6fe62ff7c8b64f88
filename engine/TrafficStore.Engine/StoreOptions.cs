namespace TrafficStore.Engine;

/// <summary>Severity of a <see cref="StoreOptions.Log"/> message.</summary>
public enum StoreLogLevel { Debug, Information, Warning, Error }

/// <summary>Settings for <see cref="TrafficStoreEngine.Open"/>.</summary>
public sealed record StoreOptions(string Directory)
{
    /// <summary>
    /// Width of a time partition. A row group holds rows of one partition; a segment holds one partition,
    /// except that a bulk load packs sparse partitions (<see cref="SparsePartitionBytes"/>).
    /// </summary>
    public TimeSpan PartitionDuration { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>A segment is closed once its file reaches this size (checked after each row group).</summary>
    public long MaxSegmentBytes { get; init; } = 256L << 20;
    /// <summary>
    /// A bulk-load seal unit packs consecutive partitions holding fewer than this many raw bytes of its rows
    /// into one segment file (cut at <see cref="MaxSegmentBytes"/>; format 3): a capture sparse in time
    /// (thousands of minutes with little traffic each) then writes a few files instead of one per table and
    /// minute — creating files and folders was half the store's CPU for such a capture. Partitions with more
    /// rows get segments of their own, as with <see cref="TrafficStoreEngine.FlushAsync"/>. 0 turns packing
    /// off. Retention deletes a packed segment only when its newest row is due (docs/engine.md, "Retention").
    /// Why 16 MiB: creating a file and its folder cost ≈ 0.5 ms of kernel CPU here, sealing 16 MiB of rows
    /// ≈ 150 ms, so a partition that large pays < 1 % for a file of its own and keeps retention per partition.
    /// </summary>
    public long SparsePartitionBytes { get; init; } = 16L << 20;
    /// <summary>Rows per row group (one chunk per column, one zone map per chunk).</summary>
    public int RowGroupRows { get; init; } = 16384;
    /// <summary>
    /// A row group is also closed when its raw bytes reach this size (large payload rows). A query
    /// reads whole chunks of the row groups holding its rows, so this bounds the bytes read for one
    /// indexed row: with 8 MiB, fetching one connection's 6 payload rows cost 25 ms of CPU
    /// (decompressing and checking bodies of other connections), with 1 MiB 8 ms (docs/benchmarks.md).
    /// </summary>
    public long RowGroupMaxBytes { get; init; } = 1L << 20;
    /// <summary>
    /// Whether sealed segments store the content-defined pieces that repeat among their byte columns' chunks once, in a
    /// piece dictionary the chunks refer to (format 4; docs/storage-format.md "Piece dictionary"). On by default: it
    /// stores the synthetic benchmark capture in 0.12× of its size instead of 0.27× (docs/benchmarks.md "Piece dictionaries").
    /// </summary>
    public bool PieceDictionaries { get; init; } = true;
    /// <summary>How long the WAL writer waits after the first pending append to gather more into one fsync. Zero: appends that arrive during an fsync share the next one.</summary>
    public TimeSpan WalGroupCommitWindow { get; init; } = TimeSpan.Zero;
    /// <summary>How often the background task seals unsealed rows into segments; null disables it (call FlushAsync).</summary>
    public TimeSpan? FlushInterval { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Unsealed rows beyond this many raw bytes trigger a flush right away.</summary>
    public long MaxUnsealedBytes { get; init; } = 128L << 20;
    /// <summary>
    /// A flush seals a table's unsealed batches in groups of at most this many raw bytes (a batch is
    /// never split). A backlog bigger than one column can hold (2 GiB of bytes, e.g. raw frames after
    /// flushes fell behind a fast ingest) is then sealed as several segments per partition instead of
    /// failing every flush; it also bounds the memory a flush needs.
    /// </summary>
    public long MaxSealGroupBytes { get; init; } = 512L << 20;
    /// <summary>How often the background task applies retention; null disables it (call ApplyRetentionAsync).</summary>
    public TimeSpan? RetentionInterval { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>Check every chunk checksum of every segment on open (slow for big stores); otherwise footers are checked on open and chunks on read.</summary>
    public bool VerifyChunksOnOpen { get; init; }
    /// <summary>Memory for the index's FASTER log; older postings spill to index/postings.log.</summary>
    public long IndexMemoryBytes { get; init; } = 64L << 20;
    /// <summary>
    /// Memory for decoded column chunks kept after a query read them (an LRU buffer pool keyed by segment,
    /// column and row group; chunks are CRC-checked when read from disk, before they are cached). 0 (the
    /// default) turns it off: every query decompresses and checks what it reads. Figures in
    /// <see cref="EngineStats.ChunkCache"/>; retention and quarantine drop a segment's chunks.
    /// </summary>
    public long ChunkCacheBytes { get; init; }
    /// <summary>
    /// Most delivery sources (node agents, <see cref="TrafficStoreEngine.AppendOnceAsync"/>) whose marks the store keeps.
    /// A batch of a new source past it is refused (<see cref="DeliverySourceLimitException"/>) unless marks idle longer
    /// than <see cref="DeliveryMarkMaxIdle"/> make room, so a writer inventing sources cannot grow the marks (memory, the
    /// <c>wal/deliveries</c> file rewritten at every flush) without bound. 100,000 marks are about 20 MB of memory and a
    /// 6 MB file; a cluster has one source per node and spool (a new one when a spool is reset).
    /// </summary>
    public int MaxDeliverySources { get; init; } = DefaultMaxDeliverySources;
    public const int DefaultMaxDeliverySources = 100_000;
    /// <summary>
    /// A source not seen (no batch, resent or new) for this long of the store's active time loses its mark: a batch it
    /// resends after that is stored again. Active time is kept in the marks file and advanced by monotonic time
    /// (<see cref="Clock"/>'s timestamps) while the store is open: downtime and wall-clock jumps do not count. An agent resends an unacknowledged batch as soon as it reaches the server again (backoff at most 10 s), so
    /// this only has to outlast the longest time an agent stays down, or cut off, with a batch whose acknowledgement it
    /// lost; 30 days is far beyond that. Marks are never expired while their source delivers.
    /// </summary>
    public TimeSpan DeliveryMarkMaxIdle { get; init; } = DefaultDeliveryMarkMaxIdle;
    public static readonly TimeSpan DefaultDeliveryMarkMaxIdle = TimeSpan.FromDays(30);
    /// <summary>Clock for retention ages (wall clock); its timestamps (monotonic) measure delivery marks' idle time.</summary>
    public TimeProvider Clock { get; init; } = TimeProvider.System;
    /// <summary>Receives recovery, quarantine and retention messages (bridge it to ILogger in hosts).</summary>
    public Action<StoreLogLevel, string>? Log { get; init; }
}
