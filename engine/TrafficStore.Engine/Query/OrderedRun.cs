using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Query;

/// <summary>
/// One time-sorted source of rows of one partition in an ordered query: either a chain of row groups of one
/// segment whose time zone maps follow each other (a sealed segment's row groups of a partition form one chain:
/// every sealer sorts rows by time before cutting row groups), or the matching rows of one unsealed block
/// (sorted when taken; the memtable bounds them). A segment run holds at most one decoded row group at a time.
/// </summary>
internal sealed class OrderedRun
{
    /// <summary>
    /// The tie order: runs are numbered in the plan's segment order (oldest minimum time first, then segment id),
    /// a segment's chains in row-group order, then unsealed blocks in arrival order. Rows of equal time come in
    /// rank order, then in row order; descending is the exact reverse.
    /// </summary>
    public required int Rank { get; init; }

    /// <summary>Bounds on the times of the run's rows (zone maps clipped to the partition's part of the query window).</summary>
    public required long Min { get; init; }
    public required long Max { get; init; }

    /// <summary>The segment of a chain; null for an unsealed block.</summary>
    public SegmentCandidate? Candidate { get; init; }

    /// <summary>The chain's row groups, ascending (read from the end when descending).</summary>
    public int[] RowGroups { get; init; } = [];

    /// <summary>How many of <see cref="RowGroups"/> have been read.</summary>
    public int Consumed { get; set; }

    /// <summary>Whether the first rows have been loaded (an unsealed run starts loaded).</summary>
    public bool Started { get; set; }

    /// <summary>The rows being read: <see cref="Rows"/> lists matching rows of <see cref="Block"/> in reading order.</summary>
    public RowBlock? Block { get; set; }
    public int[] Rows { get; set; } = [];
    public long[] Time { get; set; } = [];
    public int Position { get; set; }

    public bool HasRows => Block is not null && Position < Rows.Length;

    /// <summary>The time of the next row (requires <see cref="HasRows"/>).</summary>
    public long HeadTime => Time[Rows[Position]];
}
