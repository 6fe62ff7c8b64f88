namespace TrafficStore.Engine.Index;

/// <summary>One segment's share of an index key: the row groups that hold the value.</summary>
internal readonly record struct Posting(long SegmentId, long PartitionStart, long MinTime, long MaxTime, int[] RowGroups);

/// <summary>
/// Maps (table, column, value) to the segments and row groups holding it, per time partition.
/// It is rebuilt from segment footers on open (each footer carries its index summary), so it
/// never disagrees with the segments and needs no checkpoint of its own. See docs/engine.md for
/// why this is a plain in-memory map rather than FASTER.
/// </summary>
internal sealed class SegmentIndex
{
    private readonly record struct Key(string Table, string Column, string Value);

    private readonly Dictionary<Key, List<Posting>> _postings = new();
    /// <summary>Per (table, column): the segments whose footer carries an index summary for the column.</summary>
    private readonly Dictionary<(string Table, string Column), HashSet<long>> _coverage = new();
    private readonly object _lock = new();
    private long _entries;

    public long Entries => Interlocked.Read(ref _entries);

    public void Add(Segments.SegmentFooter footer)
    {
        lock (_lock)
        {
            foreach (var summary in footer.Index)
            {
                var coverageKey = (footer.Table, summary.Column);
                if (!_coverage.TryGetValue(coverageKey, out var covered)) _coverage[coverageKey] = covered = [];
                covered.Add(footer.SegmentId);
                foreach (var (value, groups) in summary.Values)
                {
                    var key = new Key(footer.Table, summary.Column, System.Text.Encoding.UTF8.GetString(value));
                    if (!_postings.TryGetValue(key, out var list)) _postings[key] = list = [];
                    list.Add(new Posting(footer.SegmentId, footer.PartitionStart, footer.MinTime, footer.MaxTime, groups));
                    _entries++;
                }
            }
        }
    }

    public void Remove(Segments.SegmentFooter footer)
    {
        lock (_lock)
        {
            foreach (var summary in footer.Index)
            {
                if (_coverage.TryGetValue((footer.Table, summary.Column), out var covered)) covered.Remove(footer.SegmentId);
                foreach (var (value, _) in summary.Values)
                {
                    var key = new Key(footer.Table, summary.Column, System.Text.Encoding.UTF8.GetString(value));
                    if (!_postings.TryGetValue(key, out var list)) continue;
                    _entries -= list.RemoveAll(p => p.SegmentId == footer.SegmentId);
                    if (list.Count == 0) _postings.Remove(key);
                }
            }
        }
    }

    /// <summary>
    /// The segments (and their row groups) holding any of <paramref name="values"/> with rows in
    /// [<paramref name="from"/>, <paramref name="to"/>), and the set of segments the
    /// column is indexed for (segments outside it were written before the column was indexed and must be scanned).
    /// </summary>
    public (Dictionary<long, HashSet<int>> Matches, HashSet<long> Covered) Lookup(string table, string column, IEnumerable<string> values, long from, long to)
    {
        var matches = new Dictionary<long, HashSet<int>>();
        lock (_lock)
        {
            var covered = _coverage.TryGetValue((table, column), out var c) ? new HashSet<long>(c) : [];
            foreach (var value in values)
            {
                if (!_postings.TryGetValue(new Key(table, column, value), out var list)) continue;
                foreach (var posting in list)
                {
                    if (posting.MaxTime < from || posting.MinTime >= to) continue;
                    if (!matches.TryGetValue(posting.SegmentId, out var groups)) matches[posting.SegmentId] = groups = [];
                    groups.UnionWith(posting.RowGroups);
                }
            }
            return (matches, covered);
        }
    }
}
