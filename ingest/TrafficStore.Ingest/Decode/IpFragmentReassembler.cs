using System.Buffers;

namespace TrafficStore.Ingest.Decode;

/// <summary>
/// Rebuilds IPv4 (RFC 791 section 3.2) and IPv6 (RFC 8200 section 4.5) datagrams from fragments.
/// Datagrams are identified by (version, source, destination, identification, and for IPv4 the
/// protocol). Coverage is tracked in 8-byte units, the fragment granularity. Overlaps keep the
/// bytes that arrived first (unit by unit) and record <c>fragment_overlap</c>, so the result does
/// not depend on which copy of a retransmitted fragment came last.
/// Memory is bounded by <see cref="DecoderOptions.MaxPendingDatagrams"/> and
/// <see cref="DecoderOptions.MaxPendingFragmentBytes"/> (counted as the reassembly buffers' real
/// sizes; the oldest datagrams go first) and by a capture-time timeout. Nothing is allocated per fragment once the slot pool has warmed up.
/// </summary>
internal sealed class IpFragmentReassembler
{
    /// <summary>Largest reassembled datagram payload: the 13-bit offset (x8) plus a fragment.</summary>
    public const int MaxDatagramLength = 65535;
    private const int UnitCount = (MaxDatagramLength + 7) / 8 + 1;

    private readonly DecoderOptions _options;
    private readonly DecoderStatistics _statistics;
    private readonly long _timeoutNs;
    private readonly List<PendingDatagram> _pending = new();
    private readonly Stack<PendingDatagram> _free = new();
    private byte[] _completed = new byte[2048];
    private long _heldBytes;
    private long _nextDeadlineNs = long.MaxValue; // no pending datagram expires before this

    public IpFragmentReassembler(DecoderOptions options, DecoderStatistics statistics)
    {
        _options = options;
        _statistics = statistics;
        _timeoutNs = options.FragmentTimeout.Ticks >= long.MaxValue / 100 ? long.MaxValue : options.FragmentTimeout.Ticks * 100;
    }

    public int PendingCount => _pending.Count;
    public long HeldBytes => _heldBytes;

    internal readonly record struct DatagramKey(NetAddress Source, NetAddress Destination, uint Identification, byte Protocol, byte Version);

    private sealed class PendingDatagram
    {
        public DatagramKey Key;
        public byte[] Buffer = [];
        public readonly ulong[] Covered = new ulong[(UnitCount + 63) / 64];
        public int CoveredUnits;
        public int TotalLength = -1;   // known once the last fragment (MF = 0) arrived
        public int HighestEnd;
        public long FirstSeenNs;
        public byte FirstProtocol;     // IPv6: next header of the offset-0 fragment
        public bool HasFirst;
    }

    public enum AddResult : byte { Held, Completed, Dropped }

    /// <summary>
    /// Adds one fragment. On <see cref="AddResult.Completed"/> <paramref name="datagram"/> holds the
    /// whole reassembled payload (valid until the next call) and <paramref name="protocol"/> the
    /// upper-layer protocol (IPv6: the offset-0 fragment's next header).
    /// </summary>
    public AddResult Add(scoped in DatagramKey key, int offset, bool moreFragments, ReadOnlySpan<byte> data, byte firstProtocol,
        long nowNs, scoped ref DecodeAnomaly anomaly, out ReadOnlySpan<byte> datagram, out byte protocol)
    {
        datagram = default;
        protocol = key.Protocol;
        Expire(nowNs);

        int end = offset + data.Length;
        if (end > MaxDatagramLength)
        {
            Note(DecodeAnomaly.FragmentTooLarge, ref anomaly);
            int index = Find(key);
            if (index >= 0) Release(index);
            return AddResult.Dropped;
        }

        int slot = Find(key);
        if (slot < 0) slot = Create(key, nowNs, ref anomaly);
        var d = _pending[slot];

        if (moreFragments && data.Length % 8 != 0) Note(DecodeAnomaly.FragmentInconsistent, ref anomaly);
        if (moreFragments && d.TotalLength >= 0 && end > d.TotalLength) Note(DecodeAnomaly.FragmentInconsistent, ref anomaly);
        if (!moreFragments)
        {
            if (d.TotalLength >= 0 && d.TotalLength != end) Note(DecodeAnomaly.FragmentInconsistent, ref anomaly);
            else if (d.HighestEnd > end) Note(DecodeAnomaly.FragmentInconsistent, ref anomaly);
            else d.TotalLength = end;
        }
        if (offset == 0 && !d.HasFirst)
        {
            d.HasFirst = true;
            d.FirstProtocol = firstProtocol;
        }

        if (d.Buffer.Length < end) _heldBytes += Grow(d, end);
        // Units this fragment covers completely, plus the final partial unit of the last fragment.
        int firstUnit = offset / 8;
        int lastUnitExclusive = end / 8 + (!moreFragments && end % 8 != 0 ? 1 : 0);
        bool overlapped = false;
        for (int unit = firstUnit; unit < lastUnitExclusive; unit++)
        {
            ref ulong word = ref d.Covered[unit >> 6];
            ulong bit = 1UL << (unit & 63);
            if ((word & bit) != 0)
            {
                overlapped = true;
                continue;
            }
            word |= bit;
            d.CoveredUnits++;
            int from = unit * 8;
            int to = Math.Min(from + 8, end);
            data.Slice(from - offset, to - from).CopyTo(d.Buffer.AsSpan(from));
        }
        if (overlapped) Note(DecodeAnomaly.FragmentOverlap, ref anomaly);
        d.HighestEnd = Math.Max(d.HighestEnd, end);

        if (d.TotalLength >= 0 && d.HasFirst && d.CoveredUnits == (d.TotalLength + 7) / 8 && AllCovered(d))
        {
            if (_completed.Length < d.TotalLength) _completed = new byte[Math.Max(d.TotalLength, _completed.Length * 2)];
            d.Buffer.AsSpan(0, d.TotalLength).CopyTo(_completed);
            datagram = _completed.AsSpan(0, d.TotalLength);
            protocol = key.Version == 6 ? d.FirstProtocol : key.Protocol;
            Release(slot);
            return AddResult.Completed;
        }

        EnforceByteLimit(slot, ref anomaly);
        return _pending.Contains(d) ? AddResult.Held : AddResult.Dropped;
    }

    private static bool AllCovered(PendingDatagram d)
    {
        int units = (d.TotalLength + 7) / 8;
        int fullWords = units >> 6;
        for (int i = 0; i < fullWords; i++)
            if (d.Covered[i] != ulong.MaxValue) return false;
        int rest = units & 63;
        return rest == 0 || (d.Covered[fullWords] & ((1UL << rest) - 1)) == ((1UL << rest) - 1);
    }

    /// <summary>
    /// Drops datagrams whose first fragment is older than the timeout, counting each as
    /// <c>fragment_timeout</c> in the statistics (not as an anomaly of the current frame).
    /// </summary>
    public void Expire(long nowNs)
    {
        // Cheap check first: this runs for every frame while anything is pending.
        if (nowNs <= _nextDeadlineNs) return;
        long next = long.MaxValue;
        for (int i = _pending.Count - 1; i >= 0; i--)
        {
            long deadline = Deadline(_pending[i].FirstSeenNs);
            if (nowNs > deadline)
            {
                _statistics.Record(DecodeAnomaly.FragmentTimeout);
                Release(i);
            }
            else next = Math.Min(next, deadline);
        }
        _nextDeadlineNs = next;
    }

    private long Deadline(long firstSeenNs) =>
        firstSeenNs > long.MaxValue - _timeoutNs ? long.MaxValue : firstSeenNs + _timeoutNs;

    /// <summary>Drops every pending datagram, counting each as <c>fragment_incomplete</c>.</summary>
    public void Clear()
    {
        for (int i = _pending.Count - 1; i >= 0; i--)
        {
            _statistics.Record(DecodeAnomaly.FragmentIncomplete);
            Release(i);
        }
    }

    private int Find(in DatagramKey key)
    {
        for (int i = 0; i < _pending.Count; i++)
            if (_pending[i].Key == key) return i;
        return -1;
    }

    private int Create(in DatagramKey key, long nowNs, ref DecodeAnomaly anomaly)
    {
        while (_pending.Count >= _options.MaxPendingDatagrams)
        {
            Note(DecodeAnomaly.FragmentMemoryLimit, ref anomaly);
            Release(0); // the oldest
        }
        var d = _free.Count > 0 ? _free.Pop() : new PendingDatagram();
        d.Key = key;
        d.FirstSeenNs = nowNs;
        _nextDeadlineNs = Math.Min(_nextDeadlineNs, Deadline(nowNs));
        _pending.Add(d);
        return _pending.Count - 1;
    }

    private void EnforceByteLimit(int currentSlot, ref DecodeAnomaly anomaly)
    {
        var current = _pending[currentSlot];
        while (_heldBytes > _options.MaxPendingFragmentBytes && _pending.Count > 0)
        {
            Note(DecodeAnomaly.FragmentMemoryLimit, ref anomaly);
            // Oldest first; the datagram just added to goes last (when it alone is too big).
            int victim = _pending[0] == current && _pending.Count > 1 ? 1 : 0;
            Release(victim);
        }
    }

    /// <summary>Gives the datagram a buffer of at least <paramref name="needed"/> bytes; returns the growth in bytes.</summary>
    private static int Grow(PendingDatagram d, int needed)
    {
        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, 2048));
        int growth = bigger.Length - d.Buffer.Length;
        if (d.Buffer.Length > 0)
        {
            d.Buffer.AsSpan(0, d.HighestEnd).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(d.Buffer);
        }
        d.Buffer = bigger;
        return growth;
    }

    private void Release(int index)
    {
        var d = _pending[index];
        _pending.RemoveAt(index);
        _heldBytes -= d.Buffer.Length;
        if (d.Buffer.Length > 0) ArrayPool<byte>.Shared.Return(d.Buffer);
        d.Buffer = [];
        Array.Clear(d.Covered);
        d.CoveredUnits = 0;
        d.TotalLength = -1;
        d.HighestEnd = 0;
        d.HasFirst = false;
        d.FirstProtocol = 0;
        _free.Push(d);
    }

    private void Note(DecodeAnomaly kind, ref DecodeAnomaly anomaly)
    {
        _statistics.Record(kind);
        if (anomaly == DecodeAnomaly.None) anomaly = kind;
    }
}
