namespace TrafficStore.Engine.Segments;

/// <summary>
/// The decoded piece-dictionary blocks of segments (format 4), least recently used first out, bounded by
/// <see cref="CapacityBytes"/>: a query that reads a chunk of a segment loads the blocks its references touch once,
/// and later queries of that segment find them here.
/// </summary>
/// <remarks>
/// Keyed by the footer object (held by the segment's handle for as long as the segment is open; a rewritten
/// segment has a new footer) and the block number, so an entry can never stand for other bytes than the
/// ones it was read from. A block is added only after its CRC matched and it decompressed. Blocks are segment
/// metadata like the footer, so they are kept even when the decoded-chunk cache is off; the bound holds the
/// dictionaries of several segments (each at most <see cref="SegmentWriter.MaxDictionaryBytes"/>, in blocks of
/// <see cref="SegmentWriter.DictionaryBlockBytes"/>).
/// <para>
/// The keys keep their footers alive (a deleted segment's footer stays until its blocks are evicted or
/// <see cref="Invalidate"/>d), so a footer counts against the bound too, once, with its
/// <see cref="SegmentFooter.EstimatedMemoryBytes"/>, while any block of it is cached. Only readers opened with the
/// footer the engine serves may add (<see cref="SegmentReader.Open(string, SegmentFooter, bool)"/>); a reader of a
/// footer read for one pass (retention) would add blocks under a key nobody asks for again, evicting useful ones.
/// </para>
/// </remarks>
internal sealed class PieceDictionaryCache(long capacityBytes)
{
    public const long DefaultCapacityBytes = 256L << 20;

    /// <summary>The process-wide cache every segment reader uses.</summary>
    public static readonly PieceDictionaryCache Shared = new(DefaultCapacityBytes);

    public long CapacityBytes { get; } = capacityBytes;

    private readonly record struct Key(SegmentFooter Footer, int Number);

    private readonly object _lock = new();
    private readonly Dictionary<Key, LinkedListNode<(Key Key, byte[] Bytes)>> _map = [];
    private readonly LinkedList<(Key Key, byte[] Bytes)> _lru = []; // most recently used first
    private readonly Dictionary<SegmentFooter, int> _blocksPerFooter = new(ReferenceEqualityComparer.Instance);
    private long _bytes;

    /// <summary>Bytes charged: every cached block plus, once, the estimated size of each footer holding one.</summary>
    public long Bytes { get { lock (_lock) return _bytes; } }

    /// <summary>The footers with at least one cached block (tests: no footer of a one-pass reader is held).</summary>
    public IReadOnlyList<SegmentFooter> Footers() { lock (_lock) return _blocksPerFooter.Keys.ToList(); }

    /// <summary>Block <paramref name="number"/> of the piece dictionary of the segment of <paramref name="footer"/>, from the cache or from <paramref name="load"/> (which validates it).</summary>
    public byte[] GetOrLoad(SegmentFooter footer, int number, Func<byte[]> load)
    {
        if (TryGet(footer, number) is { } cached) return cached;
        var bytes = load(); // outside the lock: concurrent first reads of one dictionary may both load it (same bytes)
        var key = new Key(footer, number);
        lock (_lock)
        {
            bool newFooter = !_blocksPerFooter.ContainsKey(footer);
            long charge = bytes.Length + (newFooter ? footer.EstimatedMemoryBytes : 0);
            if (_map.ContainsKey(key) || charge > CapacityBytes) return bytes;
            _map[key] = _lru.AddFirst((key, bytes));
            _blocksPerFooter[footer] = _blocksPerFooter.GetValueOrDefault(footer) + 1;
            _bytes += charge;
            while (_bytes > CapacityBytes && _lru.Last is { } last) Remove(last);
        }
        return bytes;
    }

    /// <summary>The cached block, or null; never loads or adds.</summary>
    public byte[]? TryGet(SegmentFooter footer, int number)
    {
        lock (_lock)
        {
            if (!_map.TryGetValue(new Key(footer, number), out var node)) return null;
            _lru.Remove(node);
            _lru.AddFirst(node);
            return node.Value.Bytes;
        }
    }

    /// <summary>Drops every block of <paramref name="footer"/>'s segment (it is no longer served), freeing its footer too.</summary>
    public void Invalidate(SegmentFooter footer)
    {
        lock (_lock)
        {
            if (!_blocksPerFooter.ContainsKey(footer)) return;
            for (int b = 0; b < footer.Dictionaries.Length; b++)
                if (_map.TryGetValue(new Key(footer, b), out var node)) Remove(node);
        }
    }

    private void Remove(LinkedListNode<(Key Key, byte[] Bytes)> node)
    {
        var (key, bytes) = node.Value;
        _lru.Remove(node);
        _map.Remove(key);
        _bytes -= bytes.Length;
        if (--_blocksPerFooter[key.Footer] == 0)
        {
            _blocksPerFooter.Remove(key.Footer);
            _bytes -= key.Footer.EstimatedMemoryBytes;
        }
    }
}
