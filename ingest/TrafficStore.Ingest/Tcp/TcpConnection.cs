using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;

namespace TrafficStore.Ingest.TcpAnalysis;

/// <summary>
/// Everything TrafficStore keeps for one TCP connection (one tshark tcp.stream): the sequence
/// analysis, per-side counters, the two reassemblers and the row it becomes. Side 0 is the source
/// of the connection's first packet; the client is decided by <see cref="ClientRule"/> and may change
/// until the handshake is seen (a capture can start with the SYN-ACK).
/// Allocated once per connection; <see cref="Process"/> does not allocate.
/// </summary>
public sealed class TcpConnection : IByteStreamSink
{
    private readonly TcpSequenceAnalysis _analysis = new();
    private readonly SideStats[] _sides = { new(), new() };
    private readonly TcpStreamReassembler[] _reassembly;
    private readonly byte[] _historySide = new byte[HistoryLetters.Length * 2];
    private readonly char[] _historyLetter = new char[HistoryLetters.Length * 2];
    private int _historyCount;
    private int _historySeen;
    private int _firstSynSide = -1;
    private int _firstSynAckSide = -1;
    private long _firstSynTs, _firstSynAckTs;
    private long? _printedIrtt;
    private readonly long[] _flagCounts = new long[16];
    private long _rttCount, _rttMin = long.MaxValue, _rttMax;
    private double _rttSum, _rttSumSquares;
    private long _dataPackets, _retransmittedDataPackets;
    private bool _sawAnyFin, _sawAnyRst;
    private Lifecycle _lifecycle;

    private const string HistoryLetters = "SHADFRTGW";

    public TcpConnection(long stream, FlowKey key, in DecodedPacket first, long maxBufferedBytesPerDirection)
    {
        Stream = stream;
        Key = key;
        SideIp0 = first.Source;
        SidePort0 = first.SourcePort;
        SideIp1 = first.Destination;
        SidePort1 = first.DestinationPort;
        FirstTimestampNs = first.TimestampNs;
        LastTimestampNs = first.TimestampNs;
        _reassembly = new[]
        {
            new TcpStreamReassembler((FlowDirection)0, maxBufferedBytesPerDirection) { Sink = null },
            new TcpStreamReassembler((FlowDirection)1, maxBufferedBytesPerDirection) { Sink = null },
        };
    }

    public long Stream { get; }
    /// <summary>Position among all flows (TCP and UDP) in order of first packet; rows are emitted in this order.</summary>
    public long AppearanceIndex { get; set; }
    public FlowKey Key { get; }
    public NetAddress SideIp0 { get; }
    public ushort SidePort0 { get; }
    public NetAddress SideIp1 { get; }
    public ushort SidePort1 { get; }
    public long FirstTimestampNs { get; }
    public long LastTimestampNs { get; private set; }
    public long LastFrame { get; private set; }
    public bool Closed => _sawAnyRst || (_sides[0].Fin > 0 && _sides[1].Fin > 0);

    /// <summary>Receiver of the reassembled bytes in client/server terms (null: count only).</summary>
    public IByteStreamSink? DataSink
    {
        get => _dataSink;
        set
        {
            _dataSink = value;
            _reassembly[0].Sink = value is null ? null : this;
            _reassembly[1].Sink = value is null ? null : this;
        }
    }
    private IByteStreamSink? _dataSink;

    public TcpSequenceAnalysis Analysis => _analysis;

    /// <summary>0 or 1: which side is the client right now.</summary>
    public int ClientSide => _firstSynSide >= 0 ? _firstSynSide : _firstSynAckSide >= 0 ? 1 - _firstSynAckSide : 0;

    public ClientRule ClientRule => _firstSynSide >= 0 ? ClientRule.Syn : _firstSynAckSide >= 0 ? ClientRule.SynAck : ClientRule.FirstPacket;

    public FlowDirection DirectionOf(int side) => side == ClientSide ? FlowDirection.ClientToServer : FlowDirection.ServerToClient;

    /// <summary>Which side sent <paramref name="p"/>.</summary>
    public int SideOf(in DecodedPacket p) => p.SourcePort == SidePort0 && p.Source == SideIp0 ? 0 : 1;

    public TcpStreamReassembler Reassembler(int side) => _reassembly[side];

    /// <summary>Analyses one packet of this connection and feeds the reassembler.</summary>
    public TcpPacketVerdict Process(in DecodedPacket p, ReadOnlySpan<byte> payload, int side, bool reusedPorts)
    {
        var s = _sides[side];
        TcpFlags flags = p.Flags;
        bool synOnly = (flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Syn;
        bool synAck = (flags & (TcpFlags.Syn | TcpFlags.Ack)) == (TcpFlags.Syn | TcpFlags.Ack);
        int seglen = Math.Max(p.PayloadLength, 0);
        long now = p.TimestampNs;
        LastTimestampNs = now;
        LastFrame = p.FrameNumber;

        var verdict = _analysis.Analyze(p, side, reusedPorts);

        s.Packets++;
        s.Bytes += p.FrameLength;
        s.Payload += seglen;
        if (synOnly)
        {
            _lifecycle |= Lifecycle.Syn;
            s.Syn++;
            AddHistory(side, 'S');
            if (_firstSynSide < 0) { _firstSynSide = side; _firstSynTs = now; }
            if (!s.OptionsSeen) RecordOptions(s, p);
        }
        if (synAck)
        {
            _lifecycle |= Lifecycle.SynAck;
            s.SynAck++;
            AddHistory(side, 'H');
            if (_firstSynAckSide < 0) { _firstSynAckSide = side; _firstSynAckTs = now; }
            if (!s.OptionsSeen) RecordOptions(s, p);
        }
        if ((flags & (TcpFlags.Syn | TcpFlags.Ack)) == TcpFlags.Ack)
        {
            _lifecycle |= Lifecycle.Ack;
            if (seglen == 0 && (flags & (TcpFlags.Fin | TcpFlags.Rst)) == 0) AddHistory(side, 'A');
        }
        if (seglen > 0)
        {
            _lifecycle |= Lifecycle.Data;
            AddHistory(side, 'D');
            _dataPackets++;
            if (verdict.Flags.IsRetransmissionFamily()) _retransmittedDataPackets++;
            if (s.FirstDataTs == 0) s.FirstDataTs = now;
            if (s.FirstDataAfterOtherTs == 0 && _sides[1 - side].FirstDataTs != 0) s.FirstDataAfterOtherTs = now;
        }
        if ((flags & TcpFlags.Fin) != 0) { s.Fin++; _sawAnyFin = true; _lifecycle |= Lifecycle.Fin; AddHistory(side, 'F'); }
        if ((flags & TcpFlags.Rst) != 0) { s.Rst++; _sawAnyRst = true; _lifecycle |= Lifecycle.Rst; AddHistory(side, 'R'); }

        var f = verdict.Flags;
        if (f.IsRetransmissionFamily()) AddHistory(side, 'T');
        if ((f & TcpAnalysisFlags.LostSegment) != 0) AddHistory(side, 'G');
        if ((f & TcpAnalysisFlags.ZeroWindow) != 0) AddHistory(side, 'W');
        // Only the set bits (most packets have none): one step per flag instead of 16 tests.
        for (uint bits = (uint)f & 0xFFFF; bits != 0; bits &= bits - 1)
            _flagCounts[System.Numerics.BitOperations.TrailingZeroCount(bits)]++;

        if (_printedIrtt is null && verdict.PrintedInitialRttNs != 0) _printedIrtt = verdict.PrintedInitialRttNs;
        if (verdict.AckRttNs > 0)
        {
            long rtt = verdict.AckRttNs;
            _rttCount++;
            _rttMin = Math.Min(_rttMin, rtt);
            _rttMax = Math.Max(_rttMax, rtt);
            _rttSum += rtt;
            _rttSumSquares += (double)rtt * rtt;
        }

        // Receive window this side advertises, scaled once the shift is known.
        int shift = _analysis.Flow(side).WinScale;
        double window = (flags & TcpFlags.Syn) == 0 && shift > 0 ? (double)((long)p.Window << shift) : p.Window;
        s.WindowSum += window;
        s.WindowCount++;

        // Reassembly: this side's bytes, then what its ACK tells about the other side's stream.
        var info = new SegmentInfo(p.FrameNumber, now);
        if (p.PayloadLength >= 0)
        {
            int capturedLength = Math.Min(p.CapturedPayloadLength, payload.Length);
            _reassembly[side].OnSegment(p.Sequence, flags, seglen, payload[..Math.Max(capturedLength, 0)], info);
        }
        if ((flags & TcpFlags.Ack) != 0 && (flags & TcpFlags.Rst) == 0) _reassembly[1 - side].OnAcknowledged(p.Acknowledgment, info);
        return verdict;
    }

    /// <summary>Flushes both reassemblers (holes become gaps).</summary>
    public void FinishReassembly()
    {
        var info = new SegmentInfo(LastFrame, LastTimestampNs);
        _reassembly[0].Finish(info);
        _reassembly[1].Finish(info);
    }

    /// <summary>The connection's row as of now.</summary>
    public ConnectionRecord ToRecord(bool idleTimedOut = false, long classificationCapHits = 0)
    {
        int c = ClientSide, sv = 1 - c;
        var cs = _sides[c];
        var ss = _sides[sv];
        var r = new ConnectionRecord
        {
            Transport = Transport.Tcp,
            Stream = Stream,
            ConnectionId = Stream,
            ClientIp = c == 0 ? SideIp0 : SideIp1,
            ClientPort = c == 0 ? SidePort0 : SidePort1,
            ServerIp = c == 0 ? SideIp1 : SideIp0,
            ServerPort = c == 0 ? SidePort1 : SidePort0,
            ClientRule = ClientRule,
            FirstTimestampNs = FirstTimestampNs,
            LastTimestampNs = LastTimestampNs,
            PacketsC2S = cs.Packets,
            PacketsS2C = ss.Packets,
            BytesC2S = cs.Bytes,
            BytesS2C = ss.Bytes,
            PayloadC2S = cs.Payload,
            PayloadS2C = ss.Payload,
            InitialRttNs = _printedIrtt,
            Syn = cs.Syn + ss.Syn,
            SynAck = cs.SynAck + ss.SynAck,
            FinC2S = cs.Fin,
            FinS2C = ss.Fin,
            RstC2S = cs.Rst,
            RstS2C = ss.Rst,
            Retransmission = Count(TcpAnalysisFlags.Retransmission) + Count(TcpAnalysisFlags.FastRetransmission) + Count(TcpAnalysisFlags.SpuriousRetransmission),
            FastRetransmission = Count(TcpAnalysisFlags.FastRetransmission),
            SpuriousRetransmission = Count(TcpAnalysisFlags.SpuriousRetransmission),
            DuplicateAck = Count(TcpAnalysisFlags.DuplicateAck),
            OutOfOrder = Count(TcpAnalysisFlags.OutOfOrder),
            ZeroWindow = Count(TcpAnalysisFlags.ZeroWindow),
            ZeroWindowProbe = Count(TcpAnalysisFlags.ZeroWindowProbe),
            WindowFull = Count(TcpAnalysisFlags.WindowFull),
            LostSegment = Count(TcpAnalysisFlags.LostSegment),
            KeepAlive = Count(TcpAnalysisFlags.KeepAlive),
            SynToSynAckNs = _firstSynSide >= 0 && _firstSynAckSide >= 0 && _firstSynAckTs >= _firstSynTs ? _firstSynAckTs - _firstSynTs : null,
            ClientOptions = cs.Options,
            ServerOptions = ss.Options,
            Lifecycle = _lifecycle,
            History = History(c),
            CloseReason = _sawAnyRst ? CloseReason.Rst : _sawAnyFin ? CloseReason.Fin : idleTimedOut ? CloseReason.IdleTimeout : CloseReason.OpenAtEnd,
            AckLostSegment = Count(TcpAnalysisFlags.AckLostSegment),
            WindowUpdate = Count(TcpAnalysisFlags.WindowUpdate),
            KeepAliveAck = Count(TcpAnalysisFlags.KeepAliveAck),
            ZeroWindowProbeAck = Count(TcpAnalysisFlags.ZeroWindowProbeAck),
            ReusedPorts = Count(TcpAnalysisFlags.ReusedPorts),
            RttSamples = _rttCount,
            TimeToFirstByteNs = cs.FirstDataTs != 0 && ss.FirstDataAfterOtherTs != 0 ? ss.FirstDataAfterOtherTs - cs.FirstDataTs : null,
            UniquePayloadC2S = _reassembly[c].UniqueBytes,
            UniquePayloadS2C = _reassembly[sv].UniqueBytes,
            DataPackets = _dataPackets,
            RetransmittedDataPackets = _retransmittedDataPackets,
            RetransmissionRate = _dataPackets == 0 ? 0 : (double)_retransmittedDataPackets / _dataPackets,
            ReceiveWindowMeanClient = cs.WindowCount == 0 ? null : cs.WindowSum / cs.WindowCount,
            ReceiveWindowMeanServer = ss.WindowCount == 0 ? null : ss.WindowSum / ss.WindowCount,
            ReassemblyGaps = _reassembly[0].Gaps + _reassembly[1].Gaps,
            ReassemblyGapBytes = _reassembly[0].GapBytes + _reassembly[1].GapBytes,
        };
        if (_rttCount > 0)
        {
            double mean = _rttSum / _rttCount;
            double variance = Math.Max(0, _rttSumSquares / _rttCount - mean * mean);
            r.RttMinNs = _rttMin;
            r.RttMaxNs = _rttMax;
            r.RttMeanNs = (long)Math.Round(mean);
            r.RttStdDevNs = (long)Math.Round(Math.Sqrt(variance));
        }
        r.Health = ConnectionRecord.Classify(r.RetransmissionRate);
        Span<long> anomalies = stackalloc long[FlowAnomalyNames.Count];
        anomalies[(int)FlowAnomaly.ReassemblyCapHit] = _reassembly[0].CapHits + _reassembly[1].CapHits;
        anomalies[(int)FlowAnomaly.ClassificationCapHit] = classificationCapHits;
        r.Anomalies = FlowAnomalyNames.Format(anomalies);
        return r;
    }

    private long Count(TcpAnalysisFlags flag) => _flagCounts[System.Numerics.BitOperations.TrailingZeroCount((uint)flag)];

    private static void RecordOptions(SideStats s, in DecodedPacket p)
    {
        s.OptionsSeen = true;
        s.Options = new HandshakeOptions
        {
            Mss = p.Mss != 0 ? p.Mss : null,
            WindowScale = p.WindowScale >= 0 ? p.WindowScale : null,
            SackPermitted = p.SackPermitted,
        };
    }

    private void AddHistory(int side, char letter)
    {
        // Called for most packets ('A', 'D') and almost always already recorded: a bit per
        // (letter, side) answers that without scanning the list.
        int bit = 1 << (HistoryIndex(letter) * 2 + side);
        if ((_historySeen & bit) != 0) return;
        _historySeen |= bit;
        for (int i = 0; i < _historyCount; i++)
            if (_historyLetter[i] == letter && _historySide[i] == side) return;
        if (_historyCount == _historyLetter.Length) return;
        _historyLetter[_historyCount] = letter;
        _historySide[_historyCount] = (byte)side;
        _historyCount++;
    }

    /// <summary>Position of <paramref name="letter"/> in <see cref="HistoryLetters"/> (a jump table, not a search).</summary>
    private static int HistoryIndex(char letter) => letter switch
    {
        'S' => 0, 'H' => 1, 'A' => 2, 'D' => 3, 'F' => 4, 'R' => 5, 'T' => 6, 'G' => 7, 'W' => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(letter)),
    };

    private string History(int clientSide)
    {
        var chars = new char[_historyCount];
        for (int i = 0; i < _historyCount; i++)
            chars[i] = _historySide[i] == clientSide ? _historyLetter[i] : char.ToLowerInvariant(_historyLetter[i]);
        return new string(chars);
    }

    // IByteStreamSink: the reassemblers are built with their side number as direction; map it to client/server.
    void IByteStreamSink.OnData(FlowDirection sideAsDirection, ReadOnlySpan<byte> data, SegmentInfo segment) =>
        _dataSink?.OnData(DirectionOf((int)sideAsDirection), data, segment);

    void IByteStreamSink.OnGap(FlowDirection sideAsDirection, long missingBytes, SegmentInfo segment) =>
        _dataSink?.OnGap(DirectionOf((int)sideAsDirection), missingBytes, segment);

    private sealed class SideStats
    {
        public long Packets, Bytes, Payload, Syn, SynAck, Fin, Rst;
        public long FirstDataTs, FirstDataAfterOtherTs;
        public double WindowSum;
        public long WindowCount;
        public bool OptionsSeen;
        public HandshakeOptions Options;
    }
}
