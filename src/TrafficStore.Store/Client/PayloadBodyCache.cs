namespace TrafficStore.Store.Client;

/// <summary>
/// The payload bodies a <see cref="FrameBodySplicer"/> keeps between record batches, keyed by payloads row
/// (exchange id, direction). Frames of one body are close together in time order, but connections interleave
/// and a long body can span many batches, so a body is kept until the frames that refer to it have passed:
/// it leaves as soon as a frame holding its last byte has been spliced (<see cref="Finish"/>), and
/// <see cref="Trim"/> drops the least recently used bodies beyond <see cref="CapacityBytes"/> (bodies whose
/// last bytes were too short to be left out of a frame never see their end). A body needed again after it
/// left is read again: correct, only one more payloads query.
/// </summary>
/// <remarks>
/// A body the current batch refers to is never dropped before the batch is spliced, so while a batch is
/// spliced the cache may hold more than <see cref="CapacityBytes"/>: the bodies kept plus those the batch
/// fetched. Between batches it holds at most <see cref="CapacityBytes"/>. Rows that were looked up and not
/// found (deleted by retention) are remembered as empty entries that count <see cref="EntryOverheadBytes"/>,
/// so no per-query state grows with the number of exchanges read.
/// </remarks>
internal sealed class PayloadBodyCache
{
    /// <summary>What an entry costs besides its body: the key's string, the dictionary and list nodes.</summary>
    public const long EntryOverheadBytes = 128;

    private sealed class Entry((long Exchange, string Direction) key, byte[]? body)
    {
        public (long Exchange, string Direction) Key { get; } = key;
        /// <summary>Null: the row is not in the store.</summary>
        public byte[]? Body { get; } = body;
        public LinkedListNode<Entry>? Node { get; set; }
        public long Cost => EntryOverheadBytes + (Body?.Length ?? 0);
    }

    private readonly Dictionary<(long Exchange, string Direction), Entry> _entries = new();
    /// <summary>Most recently used first.</summary>
    private readonly LinkedList<Entry> _recency = new();

    public PayloadBodyCache(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacityBytes);
        CapacityBytes = capacityBytes;
    }

    public long CapacityBytes { get; }

    /// <summary>Bytes held now (bodies plus <see cref="EntryOverheadBytes"/> per entry).</summary>
    public long Bytes { get; private set; }

    public int Count => _entries.Count;

    /// <summary>The most bytes held at any time (while a batch was spliced included).</summary>
    public long PeakBytes { get; private set; }

    /// <summary>The most bytes held after a <see cref="Trim"/>, i.e. between batches.</summary>
    public long PeakBytesBetweenBatches { get; private set; }

    /// <summary>Bodies dropped because a frame holding their last byte was spliced / because of the byte bound.</summary>
    public long Finished { get; private set; }
    public long Evicted { get; private set; }

    /// <summary>Whether the row was looked up (found or not); marks it most recently used.</summary>
    public bool TryGet(long exchange, string direction, out byte[]? body)
    {
        if (_entries.TryGetValue((exchange, direction), out var entry))
        {
            Touch(entry);
            body = entry.Body;
            return true;
        }
        body = null;
        return false;
    }

    /// <summary>Adds (or replaces) a row's body, or records that the row is not in the store (<paramref name="body"/> null).</summary>
    public void Add(long exchange, string direction, byte[]? body)
    {
        Remove((exchange, direction));
        var entry = new Entry((exchange, direction), body);
        _entries[entry.Key] = entry;
        entry.Node = _recency.AddFirst(entry);
        Bytes += entry.Cost;
        PeakBytes = Math.Max(PeakBytes, Bytes);
    }

    /// <summary>A frame holding the body's last byte has been spliced: the frames that refer to it have passed.</summary>
    public void Finish(long exchange, string direction)
    {
        if (Remove((exchange, direction))) Finished++;
    }

    /// <summary>Drops the least recently used entries until at most <see cref="CapacityBytes"/> are held (call between batches).</summary>
    public void Trim()
    {
        while (Bytes > CapacityBytes && _recency.Last is { } oldest)
        {
            Remove(oldest.Value.Key);
            Evicted++;
        }
        PeakBytesBetweenBatches = Math.Max(PeakBytesBetweenBatches, Bytes);
    }

    private void Touch(Entry entry)
    {
        if (entry.Node is { } node && node != _recency.First)
        {
            _recency.Remove(node);
            _recency.AddFirst(node);
        }
    }

    private bool Remove((long, string) key)
    {
        if (!_entries.Remove(key, out var entry)) return false;
        _recency.Remove(entry.Node!);
        Bytes -= entry.Cost;
        return true;
    }
}
