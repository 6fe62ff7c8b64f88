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
    private readonly List<(string Path, long RetiredAt)> _retired = [];

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
    public void Retire(string path)
    {
        lock (_lock) _retired.Add((path, ++_generation));
        DeleteUnread();
    }

    /// <summary>Deletes every retired file (the engine is closing).</summary>
    public void DeleteAll()
    {
        List<string> paths;
        lock (_lock)
        {
            paths = _retired.Select(r => r.Path).ToList();
            _retired.Clear();
        }
        foreach (var path in paths) File.Delete(path);
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
        foreach (var path in unread) File.Delete(path); // open readers keep their handle; the file disappears when they close
    }

    public readonly struct Lease(ReplacedSegmentFiles owner, long generation) : IDisposable
    {
        public void Dispose() => owner?.EndRead(generation);
    }
}
