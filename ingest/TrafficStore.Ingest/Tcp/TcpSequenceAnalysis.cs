using TrafficStore.Ingest.Decode;

namespace TrafficStore.Ingest.TcpAnalysis;

/// <summary>What the analysis says about one TCP packet.</summary>
public struct TcpPacketVerdict
{
    public TcpAnalysisFlags Flags;
    /// <summary>
    /// True when tshark would create its per-packet analysis record ("ta") for this packet; tshark
    /// prints tcp.analysis.initial_rtt only on such packets (rules §7).
    /// </summary>
    public bool HasAnalysisRecord;
    /// <summary>tcp.analysis.ack_rtt in ns (0 when not shown).</summary>
    public long AckRttNs;
    /// <summary>tcp.analysis.initial_rtt in ns as printed on this packet (0 when not printed).</summary>
    public long PrintedInitialRttNs;
}

/// <summary>
/// tshark 4.0's TCP sequence analysis for one conversation (one tcp.stream), re-implemented from
/// the rules in shared/design/tcp-analysis-rules.md (section numbers below refer to it). Works on
/// absolute 32-bit sequence numbers with serial-number comparisons and the raw window field.
/// Side 0 is the sender of the conversation's first packet, side 1 the other end.
/// </summary>
public sealed class TcpSequenceAnalysis
{
    /// <summary>tshark's cap on the unacked-segment list per flow.</summary>
    public const int MaxUnackedSegments = 10_000;

    private const long FastRetransmissionWindowNs = 20_000_000;
    private const long DefaultOutOfOrderThresholdNs = 3_000_000;

    private readonly TcpFlowAnalysis[] _flows = { new(), new() };
    private long _tsMruSyn;
    private long _tsFirstRtt;

    public TcpFlowAnalysis Flow(int side) => _flows[side];

    /// <summary>tcp.analysis.initial_rtt once computed (SYN → first non-SYN ACK), else 0.</summary>
    public long InitialRttNs => _tsFirstRtt;

    /// <summary>
    /// §1: a SYN without ACK whose sequence number differs from the base of its flow starts a new
    /// conversation (new tcp.stream). The caller creates a fresh <see cref="TcpSequenceAnalysis"/> then.
    /// </summary>
    public bool StartsNewConversation(in DecodedPacket p, int side)
    {
        var fwd = _flows[side];
        return (p.Flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn && fwd.BaseSeqSet && p.Sequence != fwd.BaseSeq;
    }

    /// <summary>
    /// Runs the whole per-packet pipeline of dissect_tcp (§0 steps 1–6) for a packet of this
    /// conversation. <paramref name="reusedPorts"/> is true for the SYN that split off this
    /// conversation from an older one.
    /// </summary>
    public TcpPacketVerdict Analyze(in DecodedPacket p, int side, bool reusedPorts)
    {
        var verdict = new TcpPacketVerdict();
        var fwd = _flows[side];
        var rev = _flows[1 - side];
        TcpFlags flags = p.Flags;
        bool synOnly = (flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;
        long now = p.TimestampNs;

        // Step 1 (§1): ISN checks on an existing conversation.
        if (reusedPorts)
        {
            verdict.Flags |= TcpAnalysisFlags.ReusedPorts;
            verdict.HasAnalysisRecord = true;
        }
        else if (synOnly && fwd.BaseSeqSet && p.Sequence == fwd.BaseSeq)
        {
            // Same-ISN SYN retransmission: tshark restores nextseq and creates an empty record.
            fwd.NextSeq = fwd.MaxSeqToBeAcked;
            verdict.HasAnalysisRecord = true;
        }
        else if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == (TcpFlags.Syn | TcpFlags.Ack) && fwd.BaseSeqSet && p.Sequence != fwd.BaseSeq)
        {
            // A SYN-ACK with a new ISN stays in the stream but rebases the flow.
            fwd.BaseSeq = p.Sequence;
            verdict.Flags |= TcpAnalysisFlags.ReusedPorts;
            verdict.HasAnalysisRecord = true;
        }

        // Step 2: only when the segment length is known.
        if (p.PayloadLength >= 0)
        {
            if (!fwd.BaseSeqSet)
            {
                fwd.BaseSeq = (flags & TcpFlags.Syn) != 0 ? p.Sequence : p.Sequence - 1;
                fwd.BaseSeqSet = true;
            }
            if (!rev.BaseSeqSet && (flags & TcpFlags.Ack) != 0)
            {
                rev.BaseSeq = p.Acknowledgment - 1;
                rev.BaseSeqSet = true;
            }
            AnalyzeSequenceNumber(p, fwd, rev, ref verdict);
        }

        // Step 3 (§7): SYN time and initial RTT.
        if (synOnly) _tsMruSyn = now;
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Ack)
        {
            if (_tsMruSyn != 0 && _tsFirstRtt == 0) _tsFirstRtt = now - _tsMruSyn;
            fwd.IsFirstAck = false;
        }

        // Step 4 (§2): window-scale option.
        if (p.WindowScale >= 0) fwd.WinScale = Math.Min((int)p.WindowScale, 14);

        // Step 5: what tshark prints.
        if (verdict.HasAnalysisRecord && _tsFirstRtt != 0) verdict.PrintedInitialRttNs = _tsFirstRtt;

        // Step 6 (§2): verify_tcp_window_scaling after a SYN or SYN-ACK.
        if ((flags & TcpFlags.Syn) != 0)
        {
            if (fwd.WinScale == -1)
            {
                fwd.WinScale = -2;
                rev.WinScale = -2;
            }
            else if ((flags & TcpFlags.Ack) != 0 && rev.WinScale == -2)
            {
                fwd.WinScale = -2;
            }
        }
        return verdict;
    }

    // §3–§6: tcp_analyze_sequence_number.
    private void AnalyzeSequenceNumber(in DecodedPacket p, TcpFlowAnalysis fwd, TcpFlowAnalysis rev, ref TcpPacketVerdict verdict)
    {
        uint seq = p.Sequence, ack = p.Acknowledgment;
        uint seglen = (uint)p.PayloadLength;
        uint win = p.Window;
        TcpFlags flags = p.Flags;
        long now = p.TimestampNs;
        bool noFlags = (flags & (TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Rst)) == 0;
        TcpAnalysisFlags f = TcpAnalysisFlags.None;

        if ((flags & TcpFlags.Ack) != 0) rev.ValidBytesInFlight = true;

        // 1: zero-window probe skips checks 2–9.
        if (seglen == 1 && seq == fwd.NextSeq && rev.Window == 0)
        {
            f |= TcpAnalysisFlags.ZeroWindowProbe;
        }
        else
        {
            // 2
            if (win == 0 && noFlags) f |= TcpAnalysisFlags.ZeroWindow;
            // 3
            if (fwd.NextSeq != 0 && Serial.Gt(seq, fwd.NextSeq) && (flags & TcpFlags.Rst) == 0)
            {
                f |= TcpAnalysisFlags.LostSegment;
                fwd.ValidBytesInFlight = false;
            }
            // 4
            if (seglen <= 1 && seq == fwd.NextSeq - 1 && noFlags) f |= TcpAnalysisFlags.KeepAlive;
            // 5
            if (seglen == 0 && win != 0 && win != fwd.Window && seq == fwd.NextSeq && ack == fwd.LastAck && noFlags)
                f |= TcpAnalysisFlags.WindowUpdate;
            // 6
            if (seglen > 0 && rev.WinScale != -1 && noFlags)
            {
                int shift = rev.IsFirstAck || rev.WinScale == -2 ? 0 : rev.WinScale;
                if (seq + seglen == rev.LastAck + (rev.Window << shift)) f |= TcpAnalysisFlags.WindowFull;
            }
            bool dupShape = seglen == 0 && seq == fwd.NextSeq && ack == fwd.LastAck && win == fwd.Window && noFlags;
            // 7, 8, 9
            if (dupShape && win != 0 && (rev.LastSegmentFlags & TcpAnalysisFlags.KeepAlive) != 0)
            {
                f |= TcpAnalysisFlags.KeepAliveAck;
            }
            else if (dupShape && win == 0 && (rev.LastSegmentFlags & TcpAnalysisFlags.ZeroWindowProbe) != 0)
            {
                f |= TcpAnalysisFlags.ZeroWindowProbeAck;
            }
            else if (dupShape && win != 0)
            {
                fwd.DupAckNum = fwd.DupAckNum == uint.MaxValue ? 1 : fwd.DupAckNum + 1;
                f |= TcpAnalysisFlags.DuplicateAck;
            }
        }

        // 10
        if (ack != fwd.LastAck)
        {
            fwd.LastNonDupAckFrame = p.FrameNumber;
            fwd.DupAckNum = 0;
        }

        // 11: ACKed unseen segment.
        if (rev.MaxSeqToBeAcked != 0 && Serial.Gt(ack, rev.MaxSeqToBeAcked) && (flags & TcpFlags.Ack) != 0)
        {
            if (Serial.Lt(rev.MaxSeqToBeAcked, rev.NextSeq))
            {
                rev.MaxSeqToBeAcked = rev.NextSeq;
                f |= TcpAnalysisFlags.AckLostSegment;
            }
            else
            {
                if (rev.DupAckNum == 0) f |= TcpAnalysisFlags.AckLostSegment;
                rev.DupAckNum = uint.MaxValue;
            }
        }

        // 12 (§5): the retransmission family.
        if (seglen > 0 || (flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0)
        {
            f |= ClassifyRetransmission(seq, seglen, flags, now, f, fwd, rev);
        }

        // 13 (§6): state update.
        bool zwp = (f & TcpAnalysisFlags.ZeroWindowProbe) != 0;
        uint nextSeqNew = seq + seglen;
        if ((seglen > 0 || (flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0) && fwd.Unacked.Count < MaxUnackedSegments)
        {
            if ((flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0) nextSeqNew++;
            fwd.Unacked.Push(new UnackedSegment(p.FrameNumber, seq, nextSeqNew, now));
        }
        if ((Serial.Gt(nextSeqNew, fwd.NextSeq) || fwd.NextSeq == 0) && !zwp)
        {
            fwd.NextSeq = nextSeqNew;
            fwd.NextSeqFrame = p.FrameNumber;
            fwd.NextSeqTime = now;
        }
        if ((seq == fwd.MaxSeqToBeAcked || fwd.MaxSeqToBeAcked == 0) && !zwp)
        {
            fwd.MaxSeqToBeAcked = fwd.NextSeq;
        }
        fwd.Window = win;
        fwd.LastAck = ack;
        fwd.LastAckTime = now;

        if (f != TcpAnalysisFlags.None) verdict.HasAnalysisRecord = true;

        // Ack matching over the other side's unacked list, newest first (raw ack; ACK flag not checked).
        if (rev.Unacked.MatchAck(ack, now, out long rtt))
        {
            verdict.HasAnalysisRecord = true;
            verdict.AckRttNs = rtt;
        }

        // Bytes in flight: the block always creates the analysis record for data packets.
        if (seglen != 0 && fwd.Unacked.Count > 0 && fwd.ValidBytesInFlight) verdict.HasAnalysisRecord = true;

        verdict.Flags |= f;
        fwd.LastSegmentFlags = verdict.Flags;
    }

    private TcpAnalysisFlags ClassifyRetransmission(uint seq, uint seglen, TcpFlags flags, long now, TcpAnalysisFlags soFar, TcpFlowAnalysis fwd, TcpFlowAnalysis rev)
    {
        if ((soFar & TcpAnalysisFlags.KeepAlive) != 0) return TcpAnalysisFlags.None;
        bool notAdvancing = fwd.NextSeq != 0 && Serial.Lt(seq, fwd.NextSeq);
        if (seglen > 1 && seq == fwd.NextSeq - 1) notAdvancing = false;

        if (seglen > 0 && rev.LastAck != 0 && Serial.Le(seq + seglen, rev.LastAck))
            return TcpAnalysisFlags.SpuriousRetransmission;

        // Unsigned deltas: an unset or later reference time gives a huge value that fails the test.
        if (notAdvancing && rev.DupAckNum >= 2 && rev.LastAck == seq
            && (ulong)(now - rev.LastAckTime) < FastRetransmissionWindowNs)
            return TcpAnalysisFlags.FastRetransmission;

        long threshold = _tsFirstRtt != 0 ? _tsFirstRtt : DefaultOutOfOrderThresholdNs;
        uint synFin = (flags & (TcpFlags.Syn | TcpFlags.Fin)) != 0 ? 1u : 0u;
        if (notAdvancing && (ulong)(now - fwd.NextSeqTime) < (ulong)threshold
            && fwd.NextSeq != seq + seglen + synFin)
            return TcpAnalysisFlags.OutOfOrder;

        return notAdvancing ? TcpAnalysisFlags.Retransmission : TcpAnalysisFlags.None;
    }
}

/// <summary>Serial-number comparisons over uint32 (RFC 1982 style, as tshark's GT_SEQ/LT_SEQ).</summary>
public static class Serial
{
    public static bool Gt(uint a, uint b) => (int)(b - a) < 0;
    public static bool Lt(uint a, uint b) => (int)(a - b) < 0;
    public static bool Le(uint a, uint b) => (int)(a - b) <= 0;
    public static bool Ge(uint a, uint b) => (int)(b - a) <= 0;
}
