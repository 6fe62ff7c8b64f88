using System.Buffers.Binary;
using System.Text;
using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine.Index;

/// <summary>
/// Maps (table, column, value, time partition) to the segments holding the value in that partition
/// and, per segment, the row groups of that partition that contain it (a packed segment, format 3, has
/// one posting per partition it holds). Postings live in FASTER
/// (<see cref="FasterPostingStore"/>); they are rebuilt from segment footers on open (each footer
/// carries its index summary), so the index never disagrees with the segments.
/// <code>
/// key:   table | 0x00 | column | 0x00 | i64 partition start | value (utf8; int64 as decimal text)
/// value: per segment: i64 segment id | i64 min time | i64 max time | varint n | n varint row-group deltas
/// </code>
/// </summary>
internal sealed class SegmentIndex : IDisposable
{
    private readonly FasterPostingStore _store;
    /// <summary>Per (table, column): the segments whose footer carries an index summary for the column.</summary>
    private readonly Dictionary<(string Table, string Column), HashSet<long>> _coverage = new();
    private readonly object _lock = new();
    private long _entries;

    public SegmentIndex(string directory, long memoryBytes) => _store = new FasterPostingStore(directory, memoryBytes);

    /// <summary>Postings held: one per (segment, indexed column, distinct value).</summary>
    public long Entries => Interlocked.Read(ref _entries);

    private static byte[] Key(string table, string column, long partition, ReadOnlySpan<byte> value)
    {
        int t = Encoding.UTF8.GetByteCount(table), c = Encoding.UTF8.GetByteCount(column);
        var key = new byte[t + 1 + c + 1 + 8 + value.Length];
        Encoding.UTF8.GetBytes(table, key);
        Encoding.UTF8.GetBytes(column, key.AsSpan(t + 1));
        BinaryPrimitives.WriteInt64LittleEndian(key.AsSpan(t + 1 + c + 1), partition);
        value.CopyTo(key.AsSpan(t + 1 + c + 1 + 8));
        return key;
    }

    private readonly record struct Entry(long SegmentId, long MinTime, long MaxTime, int[] RowGroups);

    private static List<Entry> Parse(byte[]? data)
    {
        var list = new List<Entry>();
        if (data is null) return list;
        var src = new ByteSource(data);
        while (src.Remaining > 0)
        {
            long id = src.ReadInt64(), min = src.ReadInt64(), max = src.ReadInt64();
            var groups = new int[src.ReadCount()];
            int prev = 0;
            for (int i = 0; i < groups.Length; i++) { prev += src.ReadCount(); groups[i] = prev; }
            list.Add(new Entry(id, min, max, groups));
        }
        return list;
    }

    private static byte[] Serialize(List<Entry> entries)
    {
        var sink = new ByteSink(64);
        foreach (var e in entries)
        {
            sink.WriteInt64(e.SegmentId);
            sink.WriteInt64(e.MinTime);
            sink.WriteInt64(e.MaxTime);
            sink.WriteVarUInt((ulong)e.RowGroups.Length);
            int prev = 0;
            foreach (var g in e.RowGroups) { sink.WriteVarUInt((ulong)(g - prev)); prev = g; }
        }
        return sink.ToArray();
    }

    public void Add(SegmentFooter footer)
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
                    foreach (var (partition, inPartition) in ByPartition(footer, groups))
                    {
                        var key = Key(footer.Table, summary.Column, partition, value);
                        var entries = Parse(_store.Get(key));
                        entries.RemoveAll(e => e.SegmentId == footer.SegmentId);
                        var (min, max) = footer.IsPacked ? footer.TimeRange(inPartition) : (footer.MinTime, footer.MaxTime);
                        entries.Add(new Entry(footer.SegmentId, min, max, inPartition));
                        _store.Put(key, Serialize(entries));
                        _entries++;
                    }
                }
            }
        }
    }

    public void Remove(SegmentFooter footer)
    {
        lock (_lock)
        {
            foreach (var summary in footer.Index)
            {
                if (_coverage.TryGetValue((footer.Table, summary.Column), out var covered)) covered.Remove(footer.SegmentId);
                foreach (var (value, groups) in summary.Values)
                {
                    foreach (var (partition, _) in ByPartition(footer, groups))
                    {
                        var key = Key(footer.Table, summary.Column, partition, value);
                        var entries = Parse(_store.Get(key));
                        _entries -= entries.RemoveAll(e => e.SegmentId == footer.SegmentId);
                        if (entries.Count == 0) _store.Delete(key);
                        else _store.Put(key, Serialize(entries));
                    }
                }
            }
        }
    }

    /// <summary>
    /// A value's row groups split by the partition each belongs to (ascending row groups have non-decreasing
    /// partitions): one posting per partition, so a packed segment (format 3) is found under each partition it
    /// holds, with only that partition's row groups and time range.
    /// </summary>
    private static IEnumerable<(long Partition, int[] RowGroups)> ByPartition(SegmentFooter footer, int[] groups)
    {
        if (!footer.IsPacked)
        {
            yield return (footer.PartitionStart, groups);
            yield break;
        }
        int start = 0;
        while (start < groups.Length)
        {
            long partition = footer.RowGroups[groups[start]].Partition;
            int end = start + 1;
            while (end < groups.Length && footer.RowGroups[groups[end]].Partition == partition) end++;
            yield return (partition, groups[start..end]);
            start = end;
        }
    }

    /// <summary>
    /// The segments (and their row groups) holding any of <paramref name="values"/> with rows in
    /// [<paramref name="from"/>, <paramref name="to"/>), looked up in each of <paramref name="partitions"/>,
    /// and the set of segments the column is indexed for (others were written before the column was indexed and must be scanned).
    /// </summary>
    public (Dictionary<long, HashSet<int>> Matches, HashSet<long> Covered) Lookup(
        string table, string column, IEnumerable<string> values, IReadOnlyCollection<long> partitions, long from, long to)
    {
        var matches = new Dictionary<long, HashSet<int>>();
        lock (_lock)
        {
            var covered = _coverage.TryGetValue((table, column), out var c) ? new HashSet<long>(c) : [];
            foreach (var value in values)
            {
                var valueBytes = Encoding.UTF8.GetBytes(value);
                foreach (var partition in partitions)
                {
                    foreach (var e in Parse(_store.Get(Key(table, column, partition, valueBytes))))
                    {
                        if (e.MaxTime < from || e.MinTime >= to) continue;
                        if (!matches.TryGetValue(e.SegmentId, out var groups)) matches[e.SegmentId] = groups = [];
                        groups.UnionWith(e.RowGroups);
                    }
                }
            }
            return (matches, covered);
        }
    }

    public void Dispose() => _store.Dispose();
}
