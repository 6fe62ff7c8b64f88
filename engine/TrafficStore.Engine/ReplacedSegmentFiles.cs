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
/// <para>
/// A delete that fails (an I/O error) does not stop the others: the file stays retired and is tried again whenever
/// deferred deletes run next (the next retirement or the end of a query; the lease rule still applies), logged on its
/// first failure and counted in <see cref="FailedDeletes"/>. A file is never deleted while an older file of its chain
/// (one it replaced, in turn) is still retired: the newer one names the older, and deleting it first would leave a
/// replaced file that no file names, which a crash would bring back.
/// </para>
/// </summary>
internal sealed class ReplacedSegmentFiles
{
    private sealed class Retired(string path, long segmentId, long replaces, long retiredAt)
    {
        public string Path { get; } = path;
        public long SegmentId { get; } = segmentId;
        public long Replaces { get; } = replaces;
        public long RetiredAt { get; } = retiredAt;
        public int Failures { get; set; }
    }

    private readonly object _lock = new();
    private long _generation;                                  // swaps so far
    private readonly Dictionary<long, int> _readers = [];      // generation a running query started at → queries
    private readonly List<Retired> _retired = [];              // in retirement order: a replaced file before the one replacing it
    private readonly HashSet<Retired> _deleting = [];          // taken by a delete running outside the lock
    private long _failedDeletes;

    /// <summary>Deletes a segment file (and its folder when emptied); a test seam for I/O failures.</summary>
    internal Action<string> DeleteFile { get; set; } = PartitionDirectories.DeleteSegmentFile;

    /// <summary>Where failed deletes are reported (the engine's <see cref="StoreOptions.Log"/>).</summary>
    internal Action<StoreLogLevel, string>? Log { get; set; }

    /// <summary>Files retired and not yet deleted (including those whose delete failed and waits for a retry).</summary>
    public int Pending
    {
        get { lock (_lock) return _retired.Count; }
    }

    /// <summary>Delete attempts that failed so far (each retry of a file that fails again counts).</summary>
    public long FailedDeletes => Interlocked.Read(ref _failedDeletes);

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
        lock (_lock) _retired.Add(new Retired(replaced.Path, replaced.Id, replaced.Footer.Replaces, ++_generation));
        DeleteUnread();
    }

    /// <summary>
    /// Deletes now the retired file of segment <paramref name="replacedId"/>, and of those it replaced in turn, oldest
    /// first. Call before deleting (or quarantining) the segment that names it as replaced: once that one is gone
    /// nothing would tell open that the retired file is replaced, and a crash would bring its rows back. A query still
    /// reading it misses only rows that are now all deleted. False if a delete failed: the failed file and the newer
    /// ones of the chain stay retired, and the caller must not delete the segment naming them: it retires that one too
    /// (<see cref="Retire"/>), so it is deleted after them.
    /// </summary>
    public bool DeleteChain(long replacedId)
    {
        var chain = new List<Retired>();
        lock (_lock)
        {
            for (long id = replacedId; id != 0;)
            {
                var r = _retired.Find(x => x.SegmentId == id);
                if (r is null) break;
                // A deferred delete is deleting a file of the chain right now and may fail: leave the whole chain to
                // the deferred deletes (which go oldest first) and have the caller retire its segment behind it.
                if (_deleting.Contains(r)) return false;
                chain.Add(r);
                id = r.Replaces;
            }
            foreach (var r in chain) _deleting.Add(r);
        }
        bool ok = true;
        for (int i = chain.Count - 1; i >= 0; i--) // the oldest first: each deleted file is named by one still there
        {
            if (ok && TryDelete(chain[i])) continue;
            ok = false;
            lock (_lock) _deleting.Remove(chain[i]); // kept for a retry, with every newer file of the chain
        }
        return ok;
    }

    /// <summary>Deletes every retired file (the engine is closing: no query reads any more); files that fail stay for the next open, which deletes them.</summary>
    public void DeleteAll() => DeleteUnread(ignoreReaders: true);

    private void EndRead(long generation)
    {
        lock (_lock)
        {
            if (--_readers[generation] == 0) _readers.Remove(generation);
        }
        DeleteUnread();
    }

    private void DeleteUnread(bool ignoreReaders = false)
    {
        var due = new List<Retired>();
        lock (_lock)
        {
            // A file retired at swap g may be read by queries that started before it (generation < g).
            long oldestReader = _readers.Count == 0 || ignoreReaders ? long.MaxValue : _readers.Keys.Min();
            foreach (var r in _retired)
            {
                if (r.RetiredAt > oldestReader || _deleting.Contains(r)) continue;
                due.Add(r);
                _deleting.Add(r);
            }
        }
        // In retirement order. A file whose older chain member is still retired (not due, failed, or being deleted by
        // another caller) waits: it names that member.
        foreach (var r in due)
        {
            bool olderPending;
            lock (_lock) olderPending = r.Replaces != 0 && _retired.Exists(x => x.SegmentId == r.Replaces);
            if (olderPending || !TryDelete(r))
            {
                lock (_lock) _deleting.Remove(r);
            }
        }
    }

    /// <summary>Deletes one retired file; on success it leaves the list, on an I/O error it stays (logged, counted).</summary>
    private bool TryDelete(Retired r)
    {
        try
        {
            DeleteFile(r.Path); // open readers keep their handle; the file disappears when they close
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _failedDeletes);
            if (++r.Failures == 1)
                Log?.Invoke(StoreLogLevel.Warning, $"Could not delete replaced segment file '{r.Path}' (kept, tried again later): {e.Message}");
            return false;
        }
        if (r.Failures > 0) Log?.Invoke(StoreLogLevel.Information, $"Deleted replaced segment file '{r.Path}' after {r.Failures} failed attempts.");
        lock (_lock)
        {
            _retired.Remove(r);
            _deleting.Remove(r);
        }
        return true;
    }

    public readonly struct Lease(ReplacedSegmentFiles owner, long generation) : IDisposable
    {
        public void Dispose() => owner?.EndRead(generation);
    }
}
