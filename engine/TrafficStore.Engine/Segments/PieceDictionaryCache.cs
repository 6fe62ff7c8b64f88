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
/// </remarks>
internal static class PieceDictionaryCache
{
    public const long CapacityBytes = 256L << 20;

    private readonly record struct Key(SegmentFooter Footer, int Number);

    private static readonly object s_lock = new();
    private static readonly Dictionary<Key, LinkedListNode<(Key Key, byte[] Bytes)>> s_map = [];
    private static readonly LinkedList<(Key Key, byte[] Bytes)> s_lru = []; // most recently used first
    private static long s_bytes;

    /// <summary>Block <paramref name="number"/> of the piece dictionary of the segment of <paramref name="footer"/>, from the cache or from <paramref name="load"/> (which validates it).</summary>
    public static byte[] GetOrLoad(SegmentFooter footer, int number, Func<byte[]> load)
    {
        var key = new Key(footer, number);
        lock (s_lock)
        {
            if (s_map.TryGetValue(key, out var node))
            {
                s_lru.Remove(node);
                s_lru.AddFirst(node);
                return node.Value.Bytes;
            }
        }
        var bytes = load(); // outside the lock: concurrent first reads of one dictionary may both load it (same bytes)
        lock (s_lock)
        {
            if (s_map.ContainsKey(key) || bytes.Length > CapacityBytes) return bytes;
            s_map[key] = s_lru.AddFirst((key, bytes));
            s_bytes += bytes.Length;
            while (s_bytes > CapacityBytes && s_lru.Last is { } last)
            {
                s_lru.RemoveLast();
                s_map.Remove(last.Value.Key);
                s_bytes -= last.Value.Bytes.Length;
            }
        }
        return bytes;
    }
}
