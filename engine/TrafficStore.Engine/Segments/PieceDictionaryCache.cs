namespace TrafficStore.Engine.Segments;

/// <summary>
/// The decoded piece dictionaries of segments (format 4), least recently used first out, bounded by
/// <see cref="CapacityBytes"/>: a query that reads one chunk of a segment loads its dictionary once, and later
/// queries of that segment find it here.
/// </summary>
/// <remarks>
/// Keyed by the footer object (held by the segment's handle for as long as the segment is open; a rewritten
/// segment has a new footer) and the dictionary number, so an entry can never stand for other bytes than the
/// ones it was read from. A dictionary is added only after its CRC matched. It is segment metadata like the
/// footer, so it is kept even when the decoded-chunk cache is off; its bound is what a few segments' worth of
/// dictionaries take (each is at most <see cref="SegmentWriter.MaxDictionaryBytes"/>).
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
