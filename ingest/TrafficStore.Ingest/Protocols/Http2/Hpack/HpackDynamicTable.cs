namespace TrafficStore.Ingest.Protocols.Http2.Hpack;

/// <summary>
/// The HPACK dynamic table of one decoding context (RFC 7541 §2.3.2, §4): newest entry at
/// index 1 (address space index 62), FIFO eviction when an insertion or a size update makes
/// the table larger than its maximum size. Entry size = name octets + value octets + 32 (§4.1).
/// </summary>
public sealed class HpackDynamicTable
{
    /// <summary>Per-entry overhead defined by RFC 7541 §4.1.</summary>
    public const int EntryOverhead = 32;

    private readonly record struct Entry(string Name, string Value, int NameOctets, int Size);

    // ring buffer, _start = oldest entry
    private Entry[] _entries = new Entry[16];
    private int _start;
    private int _count;

    public HpackDynamicTable(int maxSize) => MaxSize = maxSize;

    /// <summary>Current size in octets (§4.1).</summary>
    public int Size { get; private set; }

    /// <summary>Current maximum size (set by dynamic table size updates, §6.3).</summary>
    public int MaxSize { get; private set; }

    public int Count => _count;

    /// <summary>The entry at 1-based dynamic <paramref name="index"/> (1 = newest).</summary>
    public (string Name, string Value) this[int index]
    {
        get
        {
            var e = _entries[(_start + _count - index) % _entries.Length];
            return (e.Name, e.Value);
        }
    }

    /// <summary>Octets of the name at 1-based dynamic <paramref name="index"/> as it was on the wire.</summary>
    public int NameOctets(int index) => _entries[(_start + _count - index) % _entries.Length].NameOctets;

    /// <summary>Octets of the value at 1-based dynamic <paramref name="index"/> as it was on the wire.</summary>
    public int ValueOctets(int index)
    {
        var e = _entries[(_start + _count - index) % _entries.Length];
        return e.Size - e.NameOctets - EntryOverhead;
    }

    /// <summary>§4.4: an entry larger than the maximum size empties the table and is not added.</summary>
    public void Insert(string name, string value, int nameOctets, int valueOctets)
    {
        int size = nameOctets + valueOctets + EntryOverhead;
        EvictUntil(MaxSize - size);
        if (size > MaxSize) return;
        if (_count == _entries.Length) Grow();
        _entries[(_start + _count) % _entries.Length] = new Entry(name, value, nameOctets, size);
        _count++;
        Size += size;
    }

    /// <summary>§4.3: a new maximum size evicts entries until the table fits.</summary>
    public void Resize(int maxSize)
    {
        MaxSize = maxSize;
        EvictUntil(maxSize);
    }

    private void EvictUntil(int targetSize)
    {
        while (_count > 0 && Size > targetSize)
        {
            Size -= _entries[_start].Size;
            _entries[_start] = default;
            _start = (_start + 1) % _entries.Length;
            _count--;
        }
    }

    private void Grow()
    {
        var bigger = new Entry[_entries.Length * 2];
        for (int i = 0; i < _count; i++) bigger[i] = _entries[(_start + i) % _entries.Length];
        _entries = bigger;
        _start = 0;
    }
}
