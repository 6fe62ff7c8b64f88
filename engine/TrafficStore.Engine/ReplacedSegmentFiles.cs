using TrafficStore.Engine.Segments;

namespace TrafficStore.Engine;

/// <summary>
/// Keeps the file of a segment that a retention rewrite replaced until no query can still read it. A query reads the
/// snapshot it started with; had the old file gone at the swap, a query that had not opened it yet would skip it and
/// miss the rows the rewrite kept (they are in the replacement, which its snapshot does not hold). So the swap
/// retires the file (<see cref="Retire"/>) and it is deleted once every query that started before the swap has
/// ended (<see cref="BeginRead"/> leases). A crash or a leaked lease only delays the delete to the next open, which
/// deletes every segment a surviving replacement names. Deleted segments (nothing kept) do not wait: a query that
/// misses them misses rows that retention deleted, and their files must not outlive a crash.
/// </summary>
internal sealed class ReplacedSegmentFiles
{
    private readonly object _lock = new();
    private long _generation;                                  // swaps so far
    private readonly Dictionary<long, int> _readers = [];      // generation a running query started at → queries
    private readonly List<(string Path, long SegmentId, long Replaces, long RetiredAt)> _retired = [];

    /// <summary>Files retired and not yet deleted.</summary>
    public int Pending
    {
        get { lock (_lock) return _retired.Count; }
    }

    /// <summary>Registers a query; take it before reading the table's snapshot and dispose it when the query ends.</summary>
    public Lease BeginRead()
    {
        lock (_lock)
        {
            _readers[_generation] = _readers.GetValueOrDefault(_generation) + 1;
            return new Lease(this, _generation);
        }
    }

    /// <summary>Retires the file of a replaced segment; call after the snapshot swap that stops serving it.</summary>
    public void Retire(SegmentHandle replaced)
    {
        lock (_lock) _retired.Add((replaced.Path, replaced.Id, replaced.Footer.Replaces, ++_generation));
        DeleteUnread();
    }

    /// <summary>
    /// Deletes now the retired file of segment <paramref name="replacedId"/>, and of those it replaced in turn, oldest
    /// first. Call before deleting (or quarantining) the segment that names it as replaced: once that one is gone
    /// nothing would tell open that the retired file is replaced, and a crash would bring its rows back. A query still
    /// reading it misses only rows that are now all deleted.
    /// </summary>
    public void DeleteChain(long replacedId)
    {
        var chain = new List<string>();
        lock (_lock)
        {
            for (long id = replacedId; id != 0;)
            {
                int i = _retired.FindIndex(r => r.SegmentId == id);
                if (i < 0) break;
                chain.Add(_retired[i].Path);
                id = _retired[i].Replaces;
                _retired.RemoveAt(i);
            }
        }
        for (int i = chain.Count - 1; i >= 0; i--) PartitionDirectories.DeleteSegmentFile(chain[i]); // the oldest first: each deleted file is named by one still there
    }

    /// <summary>Deletes every retired file (the engine is closing).</summary>
    public void DeleteAll()
    {
        List<string> paths;
        lock (_lock)
        {
            paths = _retired.Select(r => r.Path).ToList(); // in retirement order: a replaced file before the one replacing it
            _retired.Clear();
        }
        foreach (var path in paths) PartitionDirectories.DeleteSegmentFile(path);
    }

    private void EndRead(long generation)
    {
        lock (_lock)
        {
            if (--_readers[generation] == 0) _readers.Remove(generation);
        }
        DeleteUnread();
    }

    private void DeleteUnread()
    {
        var unread = new List<string>();
        lock (_lock)
        {
            // A file retired at swap g may be read by queries that started before it (generation < g).
            long oldestReader = _readers.Count == 0 ? long.MaxValue : _readers.Keys.Min();
            _retired.RemoveAll(r =>
            {
                if (r.RetiredAt > oldestReader) return false;
                unread.Add(r.Path);
                return true;
            });
        }
        foreach (var path in unread) PartitionDirectories.DeleteSegmentFile(path); // open readers keep their handle; the file disappears when they close
    }

    public readonly struct Lease(ReplacedSegmentFiles owner, long generation) : IDisposable
    {
        public void Dispose() => owner?.EndRead(generation);
    }
}
