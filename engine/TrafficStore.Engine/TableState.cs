using System.Collections.Immutable;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine;

/// <summary>Acknowledged rows not yet sealed: one appended batch.</summary>
internal sealed record UnsealedBatch(long Seq, RowBlock Rows, long MinTime, long MaxTime);

/// <summary>A sealed segment the engine serves.</summary>
internal sealed class SegmentHandle(string path, SegmentFooter footer, long fileBytes)
{
    public string Path { get; } = path;
    public SegmentFooter Footer { get; } = footer;
    public long FileBytes { get; } = fileBytes;
    public long Id => Footer.SegmentId;
    /// <summary>Rows per partition and namespace value, computed on first use by per-namespace retention.</summary>
    public Dictionary<long, Dictionary<string, long>>? NamespaceCounts { get; set; }
}

/// <summary>An immutable view of a table: queries take one and read it without locks.</summary>
internal sealed record TableSnapshot(ImmutableList<UnsealedBatch> Unsealed, ImmutableSortedDictionary<long, SegmentHandle> Segments)
{
    public static readonly TableSnapshot Empty = new(ImmutableList<UnsealedBatch>.Empty, ImmutableSortedDictionary<long, SegmentHandle>.Empty);
}

/// <summary>A registered table: its definition and current snapshot (replaced atomically).</summary>
internal sealed class TableState(TableDefinition definition)
{
    private readonly object _lock = new();

    public TableDefinition Definition { get; set; } = definition;
    public string Name => Definition.Name;
    public TableSchema Schema => Definition.Schema;
    public TableSnapshot Snapshot { get; private set; } = TableSnapshot.Empty;

    public void Update(Func<TableSnapshot, TableSnapshot> change)
    {
        lock (_lock) Snapshot = change(Snapshot);
    }

    public TableSchema SchemaVersion(int version) => Definition.Versions.FirstOrDefault(v => v.Version == version) ?? Schema;
}
