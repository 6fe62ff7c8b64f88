namespace TrafficStore.Ingest.TcpAnalysis;

/// <summary>One direction's analysis state (tshark's tcp_flow_t / tcp_analyze_seq_flow_info_t). 0 means "unset" for the sequence fields.</summary>
public sealed class TcpFlowAnalysis
{
    public uint BaseSeq;
    public bool BaseSeqSet;
    /// <summary>-1 unknown, -2 scaling not used, else the shift.</summary>
    public int WinScale = -1;
    /// <summary>Last raw window; starts at 0xFFFFFFFF so the first packet is never a dup ACK by window.</summary>
    public uint Window = uint.MaxValue;
    public bool IsFirstAck = true;
    public bool ValidBytesInFlight = true;
    public TcpAnalysisFlags LastSegmentFlags;
    public uint NextSeq;
    public long NextSeqFrame;
    public long NextSeqTime;
    public uint MaxSeqToBeAcked;
    public uint LastAck;
    public long LastAckTime;
    public long LastNonDupAckFrame;
    public uint DupAckNum;
    public readonly UnackedSegmentList Unacked = new();
}

/// <summary>A data/SYN/FIN segment waiting for its ACK.</summary>
public struct UnackedSegment
{
    public long Frame;
    public uint Seq;
    public uint NextSeq;
    public long TimestampNs;

    public UnackedSegment(long frame, uint seq, uint nextSeq, long timestampNs)
    {
        Frame = frame;
        Seq = seq;
        NextSeq = nextSeq;
        TimestampNs = timestampNs;
    }
}

/// <summary>
/// Unacked segments, oldest at index 0 and newest at the end. A growable array owned by one flow:
/// it allocates only when it grows, never per packet in steady state.
/// </summary>
public sealed class UnackedSegmentList
{
    private UnackedSegment[] _items = new UnackedSegment[8];

    public int Count { get; private set; }

    public ref UnackedSegment this[int index] => ref _items[index];

    public void Push(in UnackedSegment s)
    {
        if (Count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        _items[Count++] = s;
    }

    /// <summary>
    /// tshark's ack matching (rules §6), newest to oldest: an exact match on a segment's end is
    /// acked (the oldest exact match gives the RTT) and removed; a partial ack trims the segment;
    /// a segment ending after the ack stays; anything else is old and removed. One compaction pass.
    /// </summary>
    public bool MatchAck(uint ack, long nowNs, out long rttNs)
    {
        rttNs = 0;
        bool matched = false;
        int write = Count;
        for (int i = Count - 1; i >= 0; i--)
        {
            ref var seg = ref _items[i];
            bool keep;
            if (ack == seg.NextSeq)
            {
                matched = true;
                rttNs = nowNs - seg.TimestampNs;
                keep = false;
            }
            else if (Serial.Gt(ack, seg.Seq) && Serial.Le(ack, seg.NextSeq))
            {
                seg.Seq = ack;
                keep = true;
            }
            else
            {
                keep = Serial.Gt(seg.NextSeq, ack);
            }
            if (keep) _items[--write] = seg;
        }
        int kept = Count - write;
        if (write > 0 && kept > 0) Array.Copy(_items, write, _items, 0, kept);
        Count = kept;
        return matched;
    }
}
