using System.Globalization;

namespace TrafficStore.Engine;

/// <summary>
/// Builds every path the engine uses on disk; nothing else composes file names.
/// <code>
/// root/LOCK                             held exclusively by the engine that has the store open
/// root/store.json                       settings fixed at creation (partition duration)
/// root/catalog.json                     table specs and schema versions
/// root/retention.json                   retention policies
/// root/retention-totals.json            what retention deleted so far (stats counters across restarts)
/// root/wal/{firstSeq:D20}.wal           write-ahead log files
/// root/wal/checkpoint                   highest WAL sequence number sealed into segments
/// root/wal/deliveries                   highest delivery mark per source (agent), written before each checkpoint
/// root/wal/{firstSegmentId:D12}.bulk    commit record of one bulk-load seal (its segments' paths), while they are renamed
/// root/segments/{table}/{partition}/{segmentId:D12}.seg   sealed segments (partition = yyyyMMddTHHmmssZ)
/// root/quarantine/                      segments that failed a checksum, with a .reason.txt each
/// root/index/postings.log               FASTER hybrid log of the index (rebuilt from footers on open)
/// </code>
/// </summary>
public sealed class StoreLayout
{
    public const string SegmentExtension = ".seg";
    public const string TempExtension = ".tmp";
    public const string WalExtension = ".wal";

    public StoreLayout(string root) => Root = Path.GetFullPath(root);

    public string Root { get; }
    public string StoreFile => Path.Combine(Root, "store.json");
    /// <summary>Held open exclusively while an engine has the store open.</summary>
    public string LockFile => Path.Combine(Root, "LOCK");
    public string CatalogFile => Path.Combine(Root, "catalog.json");
    public string RetentionFile => Path.Combine(Root, "retention.json");
    public string RetentionTotalsFile => Path.Combine(Root, "retention-totals.json");
    public string WalDirectory => Path.Combine(Root, "wal");
    public string WalCheckpointFile => Path.Combine(WalDirectory, "checkpoint");
    /// <summary>The delivery marks of the records sealed so far (<see cref="Wal.DeliveryMarks"/>).</summary>
    public string DeliveriesFile => Path.Combine(WalDirectory, "deliveries");
    public string SegmentsDirectory => Path.Combine(Root, "segments");
    public string QuarantineDirectory => Path.Combine(Root, "quarantine");
    /// <summary>FASTER's log for the index; wiped and rebuilt from segment footers on every open.</summary>
    public string IndexDirectory => Path.Combine(Root, "index");

    public string WalFile(long firstSeq) => Path.Combine(WalDirectory, firstSeq.ToString("D20", CultureInfo.InvariantCulture) + WalExtension);

    public const string BulkCommitExtension = ".bulk";

    /// <summary>The commit record of a bulk-load seal whose first segment is <paramref name="firstSegmentId"/>.</summary>
    public string BulkCommitFile(long firstSegmentId) =>
        Path.Combine(WalDirectory, firstSegmentId.ToString("D12", CultureInfo.InvariantCulture) + BulkCommitExtension);

    public string TableDirectory(string table) => Path.Combine(SegmentsDirectory, table);

    public static string PartitionName(long partitionStartNs) =>
        DateTimeOffset.UnixEpoch.AddTicks(partitionStartNs / 100).ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    public string SegmentFile(string table, long partitionStartNs, long segmentId) =>
        Path.Combine(TableDirectory(table), PartitionName(partitionStartNs), segmentId.ToString("D12", CultureInfo.InvariantCulture) + SegmentExtension);

    public static string TempFileFor(string path) => path + TempExtension;

    public string QuarantineFile(string segmentPath)
    {
        var relative = Path.GetRelativePath(SegmentsDirectory, segmentPath).Replace(Path.DirectorySeparatorChar, '_');
        return Path.Combine(QuarantineDirectory, relative);
    }

    public static string QuarantineReasonFile(string quarantinedPath) => quarantinedPath + ".reason.txt";

    public static bool TryParseSegmentId(string path, out long id) =>
        long.TryParse(Path.GetFileNameWithoutExtension(path), NumberStyles.None, CultureInfo.InvariantCulture, out id);

    /// <summary>
    /// Creates the store's directories that are missing, each made durable in its parent before anything is written
    /// into it (an acknowledged WAL record in a wal/ whose entry a power loss took away would be lost).
    /// </summary>
    public void EnsureDirectories()
    {
        Segments.DirectorySync.CreateDirectory(Root);
        Segments.DirectorySync.CreateDirectory(WalDirectory);
        Segments.DirectorySync.CreateDirectory(SegmentsDirectory);
        Segments.DirectorySync.CreateDirectory(QuarantineDirectory);
    }
}
