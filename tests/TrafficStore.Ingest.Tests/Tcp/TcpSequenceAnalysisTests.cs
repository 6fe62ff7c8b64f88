using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.TcpAnalysis;
using static TrafficStore.Ingest.Tests.TcpAnalysis.TcpScenario;

namespace TrafficStore.Ingest.Tests.TcpAnalysis;

/// <summary>
/// Corner cases of tshark 4.0's TCP analysis (shared/design/tcp-analysis-rules.md); expected
/// flags are worked out from the rules by hand.
/// </summary>
public class TcpSequenceAnalysisTests
{
    private static bool Has(TcpPacketVerdict v, TcpAnalysisFlags f) => (v.Flags & f) == f;

    [Fact]
    public void CleanHandshakeHasNoFlagsAndPrintsIrttOnTheHandshakeAck()
    {
        var t = new TcpScenario();
        t.Handshake();
        Assert.All(t.Verdicts, v => Assert.Equal(TcpAnalysisFlags.None, v.Flags));
        Assert.Equal(0, t.Verdicts[0].PrintedInitialRttNs);
        Assert.Equal(0, t.Verdicts[1].PrintedInitialRttNs);
        // The third packet acks the SYN-ACK exactly, so it has an analysis record: iRTT = SYN -> ACK = 20 ms.
        Assert.Equal(20_000_000, t.Verdicts[2].PrintedInitialRttNs);
        var r = t.Record();
        Assert.Equal(20_000_000, r.InitialRttNs);
        Assert.Equal(ClientRule.Syn, r.ClientRule);
        Assert.Equal(10_000_000, r.SynToSynAckNs);
        Assert.Equal(Lifecycle.Syn | Lifecycle.SynAck | Lifecycle.Ack, r.Lifecycle);
        Assert.Equal("ShA", r.History);
    }

    [Fact]
    public void SequenceNumbersWrapAroundWithoutFlags()
    {
        var t = new TcpScenario();
        uint isn = 0xFFFF_FF00;
        t.C(0, isn, 0, S);
        t.Sv(1, 7, isn + 1, SA);
        t.C(2, isn + 1, 8, A);
        uint seq = isn + 1;
        for (int i = 0; i < 4; i++)
        {
            t.C(3 + i * 10, seq, 8, PA, len: 100);
            seq += 100;
            t.Sv(4 + i * 10, 8, seq, A);
        }
        Assert.True(seq < isn, "the test must cross 2^32");
        Assert.All(t.Verdicts, v => Assert.Equal(TcpAnalysisFlags.None, v.Flags & ~TcpAnalysisFlags.None));
        var r = t.Record();
        Assert.Equal(400, r.PayloadC2S);
        Assert.Equal(400, r.UniquePayloadC2S);
        Assert.Equal(6, r.RttSamples); // SYN, SYN-ACK and the four data segments
    }

    [Fact]
    public void SynRetransmissionWithSameIsnStaysInTheStream()
    {
        var t = new TcpScenario();
        t.C(0, 1000, 0, S);
        var again = t.C(1000, 1000, 0, S);
        Assert.Equal(new long[] { 0, 0 }, t.Streams);
        Assert.True(Has(again, TcpAnalysisFlags.Retransmission));
        Assert.True(again.HasAnalysisRecord);
        var r = t.Record();
        Assert.Equal(2, r.Syn);
        Assert.Equal(1, r.Retransmission);
    }

    [Fact]
    public void SynWithNewIsnStartsANewStreamFlaggedReusedPorts()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, FA);
        t.Sv(40, 5001, 1002, FA);
        t.C(50, 1002, 5002, A);
        var syn = t.C(5000, 900_000, 0, S);
        Assert.Equal(1, t.Streams[^1]);
        Assert.True(Has(syn, TcpAnalysisFlags.ReusedPorts));
        Assert.Equal(TcpAnalysisFlags.ReusedPorts, syn.Flags);
        t.Sv(5010, 77, 900_001, SA);
        var ack = t.C(5030, 900_001, 78, A);
        // Fresh conversation: fresh iRTT measured from the new SYN.
        Assert.Equal(30_000_000, ack.PrintedInitialRttNs);
        Assert.Equal(1, t.Record(1).ReusedPorts);
        Assert.Equal(0, t.Record(0).ReusedPorts);
        Assert.Equal(CloseReason.Fin, t.Record(0).CloseReason);
    }

    [Fact]
    public void SynAckWithNewIsnStaysInTheStreamFlaggedReusedPorts()
    {
        var t = new TcpScenario();
        t.C(0, 1000, 0, S);
        t.Sv(10, 5000, 1001, SA);
        var second = t.Sv(20, 8000, 1001, SA);
        Assert.Equal(new long[] { 0, 0, 0 }, t.Streams);
        Assert.True(Has(second, TcpAnalysisFlags.ReusedPorts));
        // seq jumps past nextseq (5001): previous segment not captured.
        Assert.True(Has(second, TcpAnalysisFlags.LostSegment));
    }

    [Fact]
    public void InjectedRstBeyondNextSeqIsNotALostSegment()
    {
        var t = new TcpScenario();
        t.Handshake();
        var rst = t.Sv(30, 99_999, 0, R);
        Assert.Equal(TcpAnalysisFlags.None, rst.Flags);
        var r = t.Record();
        Assert.Equal(1, r.RstS2C);
        Assert.Equal(CloseReason.Rst, r.CloseReason);
    }

    [Fact]
    public void KeepAliveAndItsAck()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, PA, len: 10);
        t.Sv(40, 5001, 1011, A);
        var ka = t.C(1040, 1010, 5001, A, len: 1);
        Assert.True(Has(ka, TcpAnalysisFlags.KeepAlive));
        Assert.False(ka.Flags.IsRetransmissionFamily(), "a keep-alive is never a retransmission");
        var kaAck = t.Sv(1041, 5001, 1011, A);
        Assert.Equal(TcpAnalysisFlags.KeepAliveAck, kaAck.Flags);
        var r = t.Record();
        Assert.Equal(1, r.KeepAlive);
        Assert.Equal(1, r.KeepAliveAck);
        Assert.Equal(0, r.DuplicateAck);
    }

    [Fact]
    public void ZeroWindowProbeAndItsAck()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, PA, len: 100);
        var zw = t.Sv(40, 5001, 1101, A, win: 0);
        Assert.True(Has(zw, TcpAnalysisFlags.ZeroWindow));
        var probe = t.C(300, 1101, 5001, A, len: 1);
        Assert.Equal(TcpAnalysisFlags.ZeroWindowProbe, probe.Flags);
        var probeAck = t.Sv(301, 5001, 1101, A, win: 0);
        Assert.Equal(TcpAnalysisFlags.ZeroWindow | TcpAnalysisFlags.ZeroWindowProbeAck, probeAck.Flags);
        // The probe did not advance nextseq, so a repeated probe matches again.
        var probe2 = t.C(900, 1101, 5001, A, len: 1);
        Assert.Equal(TcpAnalysisFlags.ZeroWindowProbe, probe2.Flags);
        // Window opens again: a window update.
        var open = t.Sv(950, 5001, 1101, A, win: 2000);
        Assert.True(Has(open, TcpAnalysisFlags.WindowUpdate));
        var r = t.Record();
        Assert.Equal(2, r.ZeroWindow);
        Assert.Equal(2, r.ZeroWindowProbe);
        Assert.Equal(1, r.ZeroWindowProbeAck);
    }

    [Fact]
    public void WindowFullWithWindowScaling()
    {
        var t = new TcpScenario();
        t.C(0, 1000, 0, S, wscale: 2);
        t.Sv(10, 5000, 1001, SA, wscale: 7);
        // Client advertises raw 3 << 2 = 12 bytes after its first ACK.
        t.C(20, 1001, 5001, A, win: 3);
        var full = t.Sv(30, 5001, 1001, PA, len: 12);
        Assert.True(Has(full, TcpAnalysisFlags.WindowFull));
    }

    [Fact]
    public void WindowFullUnscaledWhenScalingNotNegotiated()
    {
        var t = new TcpScenario();
        t.C(0, 1000, 0, S);               // no WS: both sides -2 (scaling not used)
        t.Sv(10, 5000, 1001, SA, wscale: 7);
        t.C(20, 1001, 5001, A, win: 12);
        var full = t.Sv(30, 5001, 1001, PA, len: 12);
        Assert.True(Has(full, TcpAnalysisFlags.WindowFull));
    }

    [Fact]
    public void WindowFullNeedsAKnownScaleOfTheReceiver()
    {
        var t = new TcpScenario();
        // Picked up mid-stream: win_scale stays -1 (unknown) and window_full is never reported.
        t.C(0, 1001, 5001, A, win: 12);
        var notFull = t.Sv(10, 5001, 1001, PA, len: 12);
        Assert.False(Has(notFull, TcpAnalysisFlags.WindowFull));
        Assert.Equal(ClientRule.FirstPacket, t.Record().ClientRule);
    }

    [Fact]
    public void DuplicateAcksThenFastRetransmissionWithin20ms()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, PA, len: 100);
        t.C(31, 1101, 5001, PA, len: 100); // server never sees the first one
        // Same seq, ack and window as the SYN-ACK: already a duplicate ACK.
        var dup1 = t.Sv(40, 5001, 1001, A);
        t.Sv(41, 5001, 1001, A);
        var dup2 = t.Sv(42, 5001, 1001, A);
        Assert.True(Has(dup1, TcpAnalysisFlags.DuplicateAck));
        Assert.True(Has(dup2, TcpAnalysisFlags.DuplicateAck));
        var fast = t.C(50, 1001, 5001, PA, len: 100);
        Assert.Equal(TcpAnalysisFlags.FastRetransmission, fast.Flags);
        var r = t.Record();
        Assert.Equal(1, r.FastRetransmission);
        Assert.Equal(1, r.Retransmission);
        Assert.Equal(3, r.DuplicateAck);
    }

    [Fact]
    public void RetransmissionAfterDupAcksOlderThan20msIsPlain()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, PA, len: 100);
        t.C(31, 1101, 5001, PA, len: 100);
        t.Sv(40, 5001, 1001, A);
        t.Sv(41, 5001, 1001, A);
        t.Sv(42, 5001, 1001, A);
        var late = t.C(62.5, 1001, 5001, PA, len: 100);
        Assert.Equal(TcpAnalysisFlags.Retransmission, late.Flags);
    }

    [Fact]
    public void OutOfOrderWithin3msWithoutIrttElseRetransmission()
    {
        // No SYN captured, so no iRTT: the out-of-order threshold is 3 ms.
        var t = new TcpScenario();
        t.C(0, 1001, 5001, PA, len: 100);
        t.C(1, 1201, 5001, PA, len: 100);
        var early = t.C(2.5, 1101, 5001, PA, len: 100);
        Assert.Equal(TcpAnalysisFlags.OutOfOrder, early.Flags);

        var u = new TcpScenario();
        u.C(0, 1001, 5001, PA, len: 100);
        u.C(1, 1201, 5001, PA, len: 100);
        var late = u.C(4.5, 1101, 5001, PA, len: 100);
        Assert.Equal(TcpAnalysisFlags.Retransmission, late.Flags);
    }

    [Fact]
    public void OutOfOrderThresholdIsTheIrttOnceKnown()
    {
        var t = new TcpScenario();
        t.Handshake(); // iRTT 20 ms
        t.C(30, 1001, 5001, PA, len: 100);
        t.C(31, 1201, 5001, PA, len: 100);
        var ooo = t.C(45, 1101, 5001, PA, len: 100); // 14 ms after nextseq moved: < 20 ms
        Assert.Equal(TcpAnalysisFlags.OutOfOrder, ooo.Flags);
        var r = t.Record();
        Assert.Equal(1, r.OutOfOrder);
        Assert.Equal(0, r.Retransmission);
    }

    [Fact]
    public void SegmentEndingExactlyAtNextSeqIsARetransmissionNotOutOfOrder()
    {
        var t = new TcpScenario();
        t.C(0, 1001, 5001, PA, len: 100);
        var again = t.C(1, 1001, 5001, PA, len: 100);
        Assert.Equal(TcpAnalysisFlags.Retransmission, again.Flags);
    }

    [Fact]
    public void RetransmissionOfAckedDataIsSpurious()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, PA, len: 100);
        t.Sv(40, 5001, 1101, A);
        var spurious = t.C(300, 1001, 5001, PA, len: 100);
        Assert.Equal(TcpAnalysisFlags.SpuriousRetransmission, spurious.Flags);
        var r = t.Record();
        Assert.Equal(1, r.SpuriousRetransmission);
        Assert.Equal(1, r.Retransmission);
        Assert.Equal(1, r.RetransmittedDataPackets);
    }

    [Fact]
    public void GapInSequenceIsALostSegmentAndAckOfUnseenDataIsFlagged()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, PA, len: 100);
        var jump = t.C(31, 1201, 5001, PA, len: 100); // 1101..1200 never captured
        Assert.True(Has(jump, TcpAnalysisFlags.LostSegment));
        var ack = t.Sv(40, 5001, 1401, A); // acks beyond anything the client was seen sending
        Assert.True(Has(ack, TcpAnalysisFlags.AckLostSegment));
        var r = t.Record();
        Assert.Equal(1, r.LostSegment);
        Assert.Equal(1, r.AckLostSegment);
        Assert.Contains('G', r.History);
    }

    [Fact]
    public void HeadersOnlyCaptureStillCountsTcpLen()
    {
        var t = new TcpScenario();
        t.Handshake();
        t.C(30, 1001, 5001, PA, len: 500, captured: 0);
        t.Sv(40, 5001, 1501, PA, len: 1000, captured: 0);
        var r = t.Record();
        Assert.Equal(500, r.PayloadC2S);
        Assert.Equal(1000, r.PayloadS2C);
        Assert.Equal(500, r.UniquePayloadC2S);
        Assert.Equal(2, r.ReassemblyGaps);
        Assert.Equal(1500, r.ReassemblyGapBytes);
    }

    [Fact]
    public void ClientIsDecidedLateWhenTheCaptureStartsWithTheSynAck()
    {
        var t = new TcpScenario();
        t.Sv(0, 5000, 1001, SA);
        t.C(10, 1001, 5001, A);
        var r = t.Record();
        Assert.Equal(ClientRule.SynAck, r.ClientRule);
        Assert.Equal(TcpScenario.ClientIp, r.ClientIp);
        Assert.Equal(TcpScenario.ServerPort, r.ServerPort);
        Assert.Equal(1, r.PacketsC2S);
        Assert.Equal(1, r.PacketsS2C);
        // No pure SYN was captured: no iRTT is ever printed.
        Assert.Null(r.InitialRttNs);
    }

    [Fact]
    public void BareFinAckThatAcksNothingDoesNotPrintIrtt()
    {
        var t = new TcpScenario();
        t.C(0, 1000, 0, S);
        t.Sv(10, 5000, 1001, SA);
        // First ACK-type packet acks nothing new (ack 5000 != 5001) and has no flags: no record, nothing printed.
        var v = t.C(20, 1001, 5000, A);
        Assert.False(v.HasAnalysisRecord);
        Assert.Equal(0, v.PrintedInitialRttNs);
        // The next packet with a record prints the iRTT computed on the previous one.
        var data = t.C(30, 1001, 5001, PA, len: 10);
        Assert.Equal(20_000_000, data.PrintedInitialRttNs);
    }

    [Fact]
    public void RetransmissionRateAndHealthClass()
    {
        Assert.Equal(HealthClass.Healthy, ConnectionRecord.Classify(0.0099));
        Assert.Equal(HealthClass.Degraded, ConnectionRecord.Classify(0.01));
        Assert.Equal(HealthClass.Degraded, ConnectionRecord.Classify(0.0499));
        Assert.Equal(HealthClass.Severe, ConnectionRecord.Classify(0.05));
    }
}
