using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;
using TrafficStore.Engine.Columns;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Query;

/// <summary>
/// Index lookups in the segments themselves: each footer carries, per indexed column, every distinct value with its row
/// groups (<see cref="IndexSummary"/>), written sorted (utf8 values by ordinal, int64 values numerically) and held in
/// memory with the footer. The planner looks a filter's values up here, by binary search, in the segments the zone maps
/// left, so the cost of an index lookup follows those segments, not the store: the posting store
/// (<see cref="Index.SegmentIndex"/>) answers per time partition, one FASTER read each (a read from its log file
/// once the postings outgrow its memory), and a query without a time window probed every partition the zone maps
/// left (payloads of one connection on the 10 GB store: 9 probes against 1 with a one-minute window).
/// A summary whose order this build cannot confirm is not used: the planner asks the posting store instead.
/// </summary>
internal static class FooterPostings
{
    // Whether a summary is in the order binary search needs, checked once per summary (footers are immutable).
    private static readonly ConditionalWeakTable<IndexSummary, StrongBox<bool>> s_utf8Sorted = new();
    private static readonly ConditionalWeakTable<IndexSummary, StrongBox<bool>> s_int64Sorted = new();

    /// <summary>What one segment's footer says about a filter's values.</summary>
    public enum Answer
    {
        /// <summary>The segment's footer has no summary for the column (written before it was indexed): scan it.</summary>
        NotCovered,
        /// <summary>The values' row groups were found (possibly none).</summary>
        Found,
        /// <summary>The summary is not in an order this lookup can search: ask the posting store.</summary>
        Unsearchable,
    }

    /// <summary>
    /// Adds to <paramref name="groups"/> the row groups of <paramref name="footer"/> that hold any of <paramref name="keys"/>
    /// (index key text, <see cref="CompiledFilter.IndexKeys"/>) in column <paramref name="column"/> of type <paramref name="type"/>.
    /// </summary>
    public static Answer Lookup(SegmentFooter footer, string column, ColumnType type, IReadOnlyList<string> keys, HashSet<int> groups)
    {
        IndexSummary? summary = null;
        foreach (var s in footer.Index)
            if (s.Column == column) { summary = s; break; }
        if (summary is null) return Answer.NotCovered;
        bool numeric = type == ColumnType.Int64;
        if (!numeric && type != ColumnType.Utf8) return Answer.Unsearchable;
        if (!IsSorted(summary, numeric)) return Answer.Unsearchable;
        foreach (var key in keys)
        {
            int at = numeric
                ? long.TryParse(key, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long n) ? Find(summary.Values, n) : -1
                : Find(summary.Values, Encoding.UTF8.GetBytes(key));
            if (at >= 0) groups.UnionWith(summary.Values[at].RowGroups);
        }
        return Answer.Found;
    }

    private static bool IsSorted(IndexSummary summary, bool numeric) =>
        (numeric ? s_int64Sorted : s_utf8Sorted).GetValue(summary, s => new StrongBox<bool>(CheckSorted(s.Values, numeric))).Value;

    /// <summary>Strictly ascending (distinct values), every int64 value parseable.</summary>
    private static bool CheckSorted(IReadOnlyList<(byte[] Value, int[] RowGroups)> values, bool numeric)
    {
        if (numeric)
        {
            long previous = 0;
            for (int i = 0; i < values.Count; i++)
            {
                if (!TryParse(values[i].Value, out long v) || (i > 0 && v <= previous)) return false;
                previous = v;
            }
            return true;
        }
        for (int i = 1; i < values.Count; i++)
            if (values[i - 1].Value.AsSpan().SequenceCompareTo(values[i].Value) >= 0) return false;
        return true;
    }

    private static bool TryParse(byte[] text, out long value) =>
        Utf8Parser.TryParse(text, out value, out int consumed) && consumed == text.Length && text.Length > 0;

    private static int Find(IReadOnlyList<(byte[] Value, int[] RowGroups)> values, long key)
    {
        int lo = 0, hi = values.Count - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            TryParse(values[mid].Value, out long v); // parseable: checked by CheckSorted
            if (v == key) return mid;
            if (v < key) lo = mid + 1;
            else hi = mid - 1;
        }
        return -1;
    }

    private static int Find(IReadOnlyList<(byte[] Value, int[] RowGroups)> values, byte[] key)
    {
        int lo = 0, hi = values.Count - 1;
        while (lo <= hi)
        {
            int mid = lo + ((hi - lo) >> 1);
            int c = values[mid].Value.AsSpan().SequenceCompareTo(key);
            if (c == 0) return mid;
            if (c < 0) lo = mid + 1;
            else hi = mid - 1;
        }
        return -1;
    }
}
