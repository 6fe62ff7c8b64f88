using TrafficStore.Engine.Columns;

namespace TrafficStore.Engine.Query;

/// <summary>Figures of the decoded-chunk cache (<see cref="StoreOptions.ChunkCacheBytes"/>); all zero when it is off.</summary>
public sealed record ChunkCacheStats(long CapacityBytes, long Bytes, int Entries, long Hits, long Misses, long Evictions, long Invalidations)
{
    public static readonly ChunkCacheStats Off = new(0, 0, 0, 0, 0, 0, 0);
}

/// <summary>
/// A bounded least-recently-used cache of decoded column chunks, keyed by segment id, footer column
/// index and row group: the engine's buffer pool. Only chunks that were read from disk and passed their
/// CRC check are added, so serving one again is serving verified bytes; what is cached is the decoded
/// <see cref="ColumnVector"/>, which is never written after it is built (queries gather from it or
/// slice it into Arrow buffers), so concurrent queries can share it.
/// </summary>
/// <remarks>
/// Segment ids are never reused, so an entry can only be wrong if its segment is removed: retention
/// (delete or rewrite) and quarantine call <see cref="Invalidate"/>, and a read that was in flight when
/// its segment was removed does not re-add it. Capacity 0 turns the cache off (every read goes to disk).
/// <para>
/// Scan resistance: while there is room every chunk read is added; once the cache is full, a chunk is added
/// (evicting the least recently used) only when it is read a second time while its key is still among the
/// last <see cref="GhostKeys"/> chunks turned away. A full-table export reads each chunk once: it no longer
/// flushes the chunks that repeated queries need, and its gigabytes no longer pass through the cache, where
/// every one of them outlived a young-generation collection and was copied by the GC (−10–15 % of an
/// export's CPU, docs/benchmarks.md "Read path: native zstd, chunks decoded in place").
/// </para>
/// </remarks>
internal sealed class DecodedChunkCache
{
    /// <summary>Per entry: the vector's arrays' headers and the dictionary/list nodes.</summary>
    private const long EntryOverheadBytes = 160;

    private readonly record struct Key(long SegmentId, int Column, int RowGroup);
    private sealed record Entry(Key Key, ColumnVector Vector, long Bytes);

    private readonly object _lock = new();
    private readonly Dictionary<Key, LinkedListNode<Entry>> _map = new();
    private readonly LinkedList<Entry> _lru = new(); // most recently used first
    private readonly HashSet<long> _removedSegments = [];
    /// <summary>Keys turned away while the cache was full, oldest first (<see cref="GhostKeys"/> at most).</summary>
    private readonly Queue<Key> _ghostOrder = new();
    private readonly HashSet<Key> _ghosts = [];
    private long _bytes, _hits, _misses, _evictions, _invalidations, _deferred;

    /// <summary>How many turned-away keys are remembered: a few times the chunks a set of repeated queries reads, ~40 bytes each.</summary>
    internal const int GhostKeys = 16384;

    public DecodedChunkCache(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        CapacityBytes = capacityBytes;
    }

    public long CapacityBytes { get; }
    public bool Enabled => CapacityBytes > 0;

    public bool TryGet(long segmentId, int column, int rowGroup, out ColumnVector vector)
    {
        lock (_lock)
        {
            if (_map.TryGetValue(new Key(segmentId, column, rowGroup), out var node))
            {
                _lru.Remove(node);
                _lru.AddFirst(node);
                _hits++;
                vector = node.Value.Vector;
                return true;
            }
            _misses++;
        }
        vector = null!;
        return false;
    }

    /// <summary>Adds a chunk that was just read and verified; evicts the least recently used chunks to stay within the capacity.</summary>
    public void Add(long segmentId, int column, int rowGroup, ColumnVector vector)
    {
        long bytes = SizeOf(vector);
        if (bytes > CapacityBytes) return; // larger than the whole cache: not cached
        var key = new Key(segmentId, column, rowGroup);
        lock (_lock)
        {
            if (_removedSegments.Contains(segmentId) || _map.ContainsKey(key)) return;
            if (_bytes + bytes > CapacityBytes && !_ghosts.Remove(key))
            {
                // Full, and not read recently: remember the key instead (a second read soon after admits it).
                _deferred++;
                _ghosts.Add(key);
                _ghostOrder.Enqueue(key);
                while (_ghostOrder.Count > GhostKeys) _ghosts.Remove(_ghostOrder.Dequeue());
                return;
            }
            while (_bytes + bytes > CapacityBytes && _lru.Last is { } oldest)
            {
                Drop(oldest);
                _evictions++;
            }
            _map[key] = _lru.AddFirst(new Entry(key, vector, bytes));
            _bytes += bytes;
        }
    }

    /// <summary>Forgets every chunk of a segment that stops being served (retention, quarantine).</summary>
    public void Invalidate(long segmentId)
    {
        lock (_lock)
        {
            _removedSegments.Add(segmentId);
            if (_map.Count == 0) return;
            for (var node = _lru.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Key.SegmentId == segmentId)
                {
                    Drop(node);
                    _invalidations++;
                }
                node = next;
            }
        }
    }

    /// <summary>
    /// Memory a cached vector holds: its arrays' actual lengths (not <see cref="ColumnVector.RawBytes"/>, which
    /// counts booleans as bits although they are held as longs) plus the entry's bookkeeping.
    /// </summary>
    internal static long SizeOf(ColumnVector v) =>
        8L * v.Longs.Length + 8L * v.Doubles.Length + 4L * v.Offsets.Length + v.Bytes.Length + (v.Validity?.Length ?? 0) + EntryOverheadBytes;

    /// <summary>Chunks not added because the cache was full and they had not been read recently (scan resistance).</summary>
    internal long DeferredAdmissions
    {
        get { lock (_lock) return _deferred; }
    }

    public ChunkCacheStats Stats
    {
        get
        {
            lock (_lock) return new ChunkCacheStats(CapacityBytes, _bytes, _map.Count, _hits, _misses, _evictions, _invalidations);
        }
    }

    private void Drop(LinkedListNode<Entry> node)
    {
        _lru.Remove(node);
        _map.Remove(node.Value.Key);
        _bytes -= node.Value.Bytes;
    }
}
