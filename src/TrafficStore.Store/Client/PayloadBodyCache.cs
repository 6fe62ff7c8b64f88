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
/// A body the last batch referred to and did not finish is not dropped: its next frames are most likely in the
/// next batch, and a body longer than the bound would otherwise be read again for every batch it spans. So
/// between batches the cache holds at most <see cref="CapacityBytes"/> or the bodies still open in the last
/// batch, whichever is more (while a batch is spliced, plus the bodies it read). Rows that were looked up and not
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
        /// <summary>The batch (<see cref="Trim"/> count) that last used the entry.</summary>
        public long Batch { get; set; }
        public long Cost => EntryOverheadBytes + (Body?.Length ?? 0);
    }

    private readonly Dictionary<(long Exchange, string Direction), Entry> _entries = new();
    /// <summary>Most recently used first.</summary>
    private readonly LinkedList<Entry> _recency = new();
    private long _batch;

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

    /// <summary>Bytes the row's entry costs (0 when not held), without marking it used.</summary>
    public long HeldBytes(long exchange, string direction) =>
        _entries.TryGetValue((exchange, direction), out var entry) ? entry.Cost : 0;

    /// <summary>Adds (or replaces) a row's body, or records that the row is not in the store (<paramref name="body"/> null).</summary>
    public void Add(long exchange, string direction, byte[]? body)
    {
        Remove((exchange, direction));
        var entry = new Entry((exchange, direction), body) { Batch = _batch };
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

    /// <summary>
    /// Ends a batch: drops the least recently used entries until at most <see cref="CapacityBytes"/> are held or
    /// only entries this batch used are left (the list is in recency order, so those are its head).
    /// </summary>
    public void Trim()
    {
        while (Bytes > CapacityBytes && _recency.Last is { } oldest && oldest.Value.Batch != _batch)
        {
            Remove(oldest.Value.Key);
            Evicted++;
        }
        PeakBytesBetweenBatches = Math.Max(PeakBytesBetweenBatches, Bytes);
        _batch++;
    }

    private void Touch(Entry entry)
    {
        entry.Batch = _batch;
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
