using System.Text;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.TcpAnalysis;
using TrafficStore.Ingest.Tests.Support;

namespace TrafficStore.Ingest.Tests.TcpAnalysis;

public class TcpStreamReassemblerTests
{
    /// <summary>Records the stream as text: data bytes as they are, gaps as "[gap N]"; adjacent gaps merged.</summary>
    private sealed class Recorder : IByteStreamSink
    {
        private readonly StringBuilder _text = new();
        private long _pendingGap;
        public List<long> DataFrames { get; } = new();

        public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
        {
            FlushGap();
            _text.Append(Encoding.ASCII.GetString(data));
            DataFrames.Add(segment.FrameNumber);
        }

        public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment) => _pendingGap += missingBytes;

        private void FlushGap()
        {
            if (_pendingGap == 0) return;
            _text.Append($"[gap {_pendingGap}]");
            _pendingGap = 0;
        }

        public override string ToString()
        {
            FlushGap();
            return _text.ToString();
        }
    }

    private static (TcpStreamReassembler R, Recorder Out) Create(long cap = 1 << 20)
    {
        var rec = new Recorder();
        return (new TcpStreamReassembler(FlowDirection.ClientToServer, cap) { Sink = rec }, rec);
    }

    private static void Seg(TcpStreamReassembler r, uint seq, string data, long frame = 1, TcpFlags flags = TcpFlags.Ack) =>
        r.OnSegment(seq, flags, data.Length, Encoding.ASCII.GetBytes(data), new SegmentInfo(frame, frame * 1000));

    [Fact]
    public void InOrderSegmentsPassStraightThrough()
    {
        var (r, o) = Create();
        r.OnSegment(99, TcpFlags.Syn, 0, default, new SegmentInfo(1, 0));
        Seg(r, 100, "GET / ", 2);
        Seg(r, 106, "HTTP/1.1\r\n", 3);
        Assert.Equal("GET / HTTP/1.1\r\n", o.ToString());
        Assert.Equal(new long[] { 2, 3 }, o.DataFrames);
        Assert.Equal(16, r.UniqueBytes);
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void OutOfOrderSegmentsAreBufferedAndReleasedInOrder()
    {
        var (r, o) = Create();
        r.OnSegment(99, TcpFlags.Syn, 0, default, new SegmentInfo(1, 0));
        Seg(r, 106, "world", 2);
        Assert.Equal("", o.ToString());
        Assert.Equal(5, r.BufferedBytes);
        Seg(r, 100, "hello ", 3);
        Assert.Equal("hello world", o.ToString());
        Assert.Equal(new long[] { 3, 2 }, o.DataFrames);
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void RetransmittedBytesAreDeliveredOnceAndTheFirstCopyWins()
    {
        var (r, o) = Create();
        Seg(r, 100, "abcdef", 1);
        Seg(r, 100, "XXXXXX", 2);       // full retransmission with other content
        Seg(r, 103, "YYYghi", 3);       // overlaps the tail; only "ghi" is new
        Assert.Equal("abcdefghi", o.ToString());
        Assert.Equal(9, r.DuplicateBytes);
        Assert.Equal(9, r.UniqueBytes);
    }

    [Fact]
    public void OverlappingBufferedSegmentsResolveByLowestStart()
    {
        var (r, o) = Create();
        Seg(r, 100, "ab", 1);
        Seg(r, 106, "QRS", 2);   // buffered first, starts higher
        Seg(r, 104, "efgh", 3);  // buffered second, starts lower: its "gh" wins over "QR"
        Seg(r, 102, "cd", 4);
        Assert.Equal("abcdefghS", o.ToString());
    }

    [Fact]
    public void AckBeyondAHoleSkipsItAsAGap()
    {
        var (r, o) = Create();
        Seg(r, 100, "12345", 1);
        Seg(r, 110, "ABC", 2);                               // 105..109 never captured
        r.OnAcknowledged(113, new SegmentInfo(3, 3000));     // the receiver had them
        Assert.Equal("12345[gap 5]ABC", o.ToString());
        Seg(r, 105, "late!", 4);                             // arrives after the skip: dropped
        Assert.Equal("12345[gap 5]ABC", o.ToString());
        Assert.Equal(1, r.Gaps);
        Assert.Equal(5, r.GapBytes);
    }

    [Fact]
    public void AckWithoutBufferedDataSkipsToTheAck()
    {
        var (r, o) = Create();
        Seg(r, 100, "abc", 1);
        r.OnAcknowledged(110, new SegmentInfo(2, 2000));
        Seg(r, 110, "xyz", 3);
        Assert.Equal("abc[gap 7]xyz", o.ToString());
    }

    [Fact]
    public void FinishFlushesBufferedDataWithGaps()
    {
        var (r, o) = Create();
        Seg(r, 100, "aa", 1);
        Seg(r, 105, "bb", 2);
        Seg(r, 110, "cc", 3);
        r.Finish(new SegmentInfo(4, 4000));
        Assert.Equal("aa[gap 3]bb[gap 3]cc", o.ToString());
        Assert.Equal(2, r.Gaps);
    }

    [Fact]
    public void SequenceWrapAroundKeepsCounting()
    {
        var (r, o) = Create();
        uint isn = uint.MaxValue - 3;
        r.OnSegment(isn, TcpFlags.Syn, 0, default, new SegmentInfo(1, 0));
        Seg(r, isn + 1, "abc", 2);               // last 3 numbers before the wrap
        Seg(r, unchecked(isn + 4 + 3), "ghi", 3); // after the wrap, out of order
        Seg(r, unchecked(isn + 4), "def", 4);     // seq 0
        Assert.Equal("abcdefghi", o.ToString());
        Assert.Equal(9, r.NextOffset);
    }

    [Fact]
    public void CapHitGivesUpTheHoleWithAGap()
    {
        var (r, o) = Create(cap: 8);
        Seg(r, 100, "ab", 1);
        Seg(r, 110, "12345", 2);  // buffered (5 bytes)
        Seg(r, 120, "6789", 3);   // 5 + 4 > 8: give up
        Assert.Equal(1, r.CapHits);
        Assert.Equal("ab[gap 8]12345[gap 5]6789", o.ToString());
        Seg(r, 102, "lateXXXX", 4);
        Assert.Equal("ab[gap 8]12345[gap 5]6789", o.ToString());
    }

    [Fact]
    public void HeadersOnlySegmentsBecomeGapsButCountAsSent()
    {
        var (r, o) = Create();
        r.OnSegment(100, TcpFlags.Ack, 500, default, new SegmentInfo(1, 0));
        r.OnSegment(600, TcpFlags.Ack, 10, Encoding.ASCII.GetBytes("abc"), new SegmentInfo(2, 0)); // snaplen cut it to 3
        Seg(r, 610, "z", 3);
        Assert.Equal("[gap 500]abc[gap 7]z", o.ToString());
        Assert.Equal(511, r.UniqueBytes);
        Assert.Equal(507, r.GapBytes);
    }

    [Fact]
    public void CountOnlyModeAccountsWithoutASink()
    {
        var r = new TcpStreamReassembler(FlowDirection.ServerToClient, 1 << 20);
        r.OnSegment(100, TcpFlags.Ack, 5, new byte[5], new SegmentInfo(1, 0));
        r.OnSegment(110, TcpFlags.Ack, 5, new byte[5], new SegmentInfo(2, 0));
        r.OnSegment(105, TcpFlags.Ack, 5, new byte[5], new SegmentInfo(3, 0));
        r.OnSegment(100, TcpFlags.Ack, 5, new byte[5], new SegmentInfo(4, 0));
        Assert.Equal(15, r.UniqueBytes);
        Assert.Equal(15, r.DeliveredBytes);
        Assert.Equal(5, r.DuplicateBytes);
    }

    /// <summary>Split invariance: any segmentation, in order or reversed, gives the same stream.</summary>
    [Fact]
    public void OutputIsTheSameForEverySplitAndOrder()
    {
        const string message = "POST /upload HTTP/1.1\r\nHost: example\r\nContent-Length: 11\r\n\r\nhello world";
        for (int split = 0; split <= message.Length; split++)
        {
            foreach (bool reversed in new[] { false, true })
            {
                var (r, o) = Create();
                r.OnSegment(999, TcpFlags.Syn, 0, default, new SegmentInfo(1, 0));
                var parts = new[] { (Seq: 1000u, Text: message[..split]), (Seq: 1000u + (uint)split, Text: message[split..]) };
                if (reversed) Array.Reverse(parts);
                foreach (var (seq, text) in parts)
                    if (text.Length > 0) Seg(r, seq, text);
                Assert.Equal(message, o.ToString());
            }
        }
        // And byte by byte.
        var (rb, ob) = Create();
        for (int i = 0; i < message.Length; i++) Seg(rb, 1000u + (uint)i, message[i].ToString());
        Assert.Equal(message, ob.ToString());
    }

    [Fact]
    public void InOrderSegmentsDoNotAllocate()
    {
        var r = new TcpStreamReassembler(FlowDirection.ClientToServer, 1 << 20) { Sink = new NullSink() };
        var data = new byte[1000];
        uint seq = 1;
        for (int i = 0; i < 100; i++) { r.OnSegment(seq, TcpFlags.Ack, data.Length, data, new SegmentInfo(i, i)); seq += 1000; }
        Assert.Equal(0, Allocations.LeastOf(3, () =>
        {
            for (int i = 0; i < 10_000; i++) { r.OnSegment(seq, TcpFlags.Ack, data.Length, data, new SegmentInfo(i, i)); seq += 1000; }
        }));
    }

    private sealed class NullSink : IByteStreamSink
    {
        public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment) { }
        public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment) { }
    }
}
