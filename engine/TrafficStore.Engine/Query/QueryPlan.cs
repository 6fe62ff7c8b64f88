using System.Runtime.CompilerServices;
using TrafficStore.Engine.Catalog;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Query;

/// <summary>A sealed segment a query must read, with the row groups the index allows (null = all).</summary>
internal sealed record SegmentCandidate(SegmentHandle Segment, HashSet<int>? RowGroups);

/// <summary>The chunk infos of one row group of a segment, by table column (no allocation per row group).</summary>
internal readonly struct RowGroupChunks
{
    /// <summary>The whole segment as one row group (<see cref="SegmentFooter.WholeSegment"/>).</summary>
    public const int WholeSegment = -1;

    private readonly QueryPlan? _plan;
    private readonly SegmentFooter? _footer;
    private readonly SegmentZones? _zones;
    private readonly int _index;

    public RowGroupChunks(QueryPlan plan, SegmentFooter footer, int rowGroup)
    {
        _plan = plan;
        _footer = footer;
        _index = rowGroup;
    }

    /// <summary>Segment <paramref name="segment"/> of <paramref name="zones"/> as one row group.</summary>
    public RowGroupChunks(SegmentZones zones, int segment)
    {
        _zones = zones;
        _index = segment;
    }

    /// <summary>The chunk of a table column, or null if the segment predates the column.</summary>
    public ChunkInfo? Of(int tableColumn) => _zones is not null ? _zones.Whole(tableColumn)[_index] : _plan!.Chunk(_footer!, tableColumn, _index);
}

/// <summary>
/// A query bound to one table snapshot: compiled filters, projection, the effective time window
/// and the segments left after segment-level zone maps and the index.
/// </summary>
internal sealed class QueryPlan
{
    public required QuerySpec Spec { get; init; }
    public required TableState Table { get; init; }
    public required TableSchema Schema { get; init; }
    public required TableSnapshot Snapshot { get; init; }
    public required CompiledFilter[] Filters { get; init; }
    public required int[] Projection { get; init; }
    public required int TimeColumn { get; init; }
    public required int EndColumn { get; init; }
    /// <summary>Inclusive lower bound on the time column.</summary>
    public required long From { get; init; }
    /// <summary>Exclusive upper bound on the time column (AsOf folded in as AsOf + 1).</summary>
    public required long To { get; init; }
    public required List<SegmentCandidate> Segments { get; init; }

    public long? AsOf => Spec.AsOf;

    /// <summary>False when zone maps prove no row of row group <paramref name="g"/> can match.</summary>
    public bool RowGroupMayMatch(SegmentFooter footer, int g)
    {
        int rows = footer.RowGroups[g].RowCount;
        var time = Chunk(footer, TimeColumn, g);
        if (time is not null && time.Zone.Present && (time.Zone.MaxLong < From || time.Zone.MinLong >= To)) return false;
        if (AsOf is long asOf && EndColumn >= 0)
        {
            var end = Chunk(footer, EndColumn, g);
            // Rows whose end is null are still open and match; otherwise some end must reach the instant.
            if (end is not null && end.NullCount == 0 && end.Zone.Present && end.Zone.MaxLong < asOf) return false;
        }
        var chunks = new RowGroupChunks(this, footer, g);
        foreach (var f in Filters)
        {
            // A column added after this segment was written is all null there: nothing matches it.
            if (!f.MayMatch(chunks, rows)) return false;
        }
        return true;
    }

    /// <summary>The chunk of a table column in a segment (<see cref="RowGroupChunks.WholeSegment"/>: its summary), or null if the segment predates the column.</summary>
    public ChunkInfo? Chunk(SegmentFooter footer, int tableColumn, int g)
    {
        int c = FooterColumn(footer, tableColumn);
        return c < 0 ? null : g == RowGroupChunks.WholeSegment ? footer.WholeSegment(c) : footer.Chunks[c][g];
    }

    /// <summary>
    /// False when the filters' zone maps over the whole segment prove no row can match: one check per
    /// segment before <see cref="RowGroupMayMatch"/> checks each row group (the time window is checked by the caller).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool SegmentMayMatch(SegmentZones zones, int segment)
    {
        long rows = zones.RowCount[segment];
        if (rows > int.MaxValue) return true;
        var chunks = new RowGroupChunks(zones, segment);
        foreach (var f in Filters)
        {
            if (f.AnyOf is null && f.LongValues is not null)
            {
                var longs = zones.Longs(f.Column);
                byte state = longs.State[segment];
                if (state == LongZones.NoValue || (state == LongZones.Range && !f.MayMatchLongs(longs.Min[segment], longs.Max[segment]))) return false;
                continue;
            }
            if (!f.MayMatch(chunks, (int)rows)) return false;
        }
        return true;
    }

    // Planning checks every row group of every segment in range, a few columns each: resolve a table
    // column's footer index (a name search) once per segment rather than per row group and check.
    // A plan is used by one query at a time, so this needs no lock.
    private SegmentFooter? _mappedFooter;
    private int[] _footerColumns = [];
    private const int Unresolved = -2;

    private int FooterColumn(SegmentFooter footer, int tableColumn)
    {
        if (!ReferenceEquals(footer, _mappedFooter))
        {
            if (_footerColumns.Length != Schema.Count) _footerColumns = new int[Schema.Count];
            Array.Fill(_footerColumns, Unresolved);
            _mappedFooter = footer;
        }
        int c = _footerColumns[tableColumn];
        if (c == Unresolved) _footerColumns[tableColumn] = c = footer.ColumnIndex(Schema.Columns[tableColumn].Name);
        return c;
    }

    /// <summary>Rows (indices) of a block that match the time window, as-of and every filter.</summary>
    public int[] Select(Func<int, ColumnVector> column, int n, long from, long to)
    {
        var keep = new bool[n];
        var time = column(TimeColumn);
        for (int i = 0; i < n; i++) keep[i] = !time.IsNull(i) && time.Longs[i] >= from && time.Longs[i] < to;
        if (AsOf is long asOf && EndColumn >= 0)
        {
            var end = column(EndColumn);
            for (int i = 0; i < n; i++) if (keep[i] && !end.IsNull(i) && end.Longs[i] < asOf) keep[i] = false;
        }
        foreach (var f in Filters) f.Apply(column, keep);
        int count = 0;
        foreach (var k in keep) if (k) count++;
        var rows = new int[count];
        for (int i = 0, j = 0; i < n; i++) if (keep[i]) rows[j++] = i;
        return rows;
    }
}
