using System.Text;
using TrafficStore.Ingest.Capture;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Pipeline;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Tests.Oracle;
using TrafficStore.Ingest.Tests.TcpAnalysis;
using static TrafficStore.Ingest.Tests.TcpAnalysis.TcpScenario;
using TrafficStore.Ingest.Tests.Support;

namespace TrafficStore.Ingest.Tests.Pipeline;

public class IngestPipelineTests
{
    /// <summary>A protocol for tests: claims streams whose client starts with its magic, or its port.</summary>
    private sealed class FakeProtocol : IStreamProtocol, IDatagramProtocol
    {
        private readonly string _magic;
        private readonly ushort _port;

        public FakeProtocol(string name, string magic, ushort port)
        {
            Name = name;
            _magic = magic;
            _port = port;
        }

        public string Name { get; }
        public List<FakeParser> Parsers { get; } = new();
        public int ClassifyCalls { get; private set; }

        public bool IsWellKnownPort(ushort port) => port == _port;

        public ProtocolMatch Classify(FlowDirection direction, ReadOnlySpan<byte> firstBytes)
        {
            ClassifyCalls++;
            if (direction != FlowDirection.ClientToServer) return ProtocolMatch.No;
            return Classify(firstBytes);
        }

        public ProtocolMatch Classify(ReadOnlySpan<byte> bytes)
        {
            var magic = Encoding.ASCII.GetBytes(_magic);
            int n = Math.Min(bytes.Length, magic.Length);
            if (!bytes[..n].SequenceEqual(magic.AsSpan(0, n))) return ProtocolMatch.No;
            return n < magic.Length ? ProtocolMatch.NeedMoreData : ProtocolMatch.Yes;
        }

        public IStreamParser CreateParser(FlowContext flow) { var p = new FakeParser(flow); Parsers.Add(p); return p; }

        IDatagramParser IDatagramProtocol.CreateParser(FlowContext flow) { var p = new FakeParser(flow); Parsers.Add(p); return p; }
    }

    private sealed class FakeParser : IStreamParser, IDatagramParser
    {
        public FakeParser(FlowContext flow) => Flow = flow;
        public FlowContext Flow { get; }
        public List<string> Events { get; } = new();
        public int Ends { get; private set; }

        public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment) =>
            Events.Add($"{direction.ToShortName()}#{segment.FrameNumber}:{Encoding.ASCII.GetString(data)}");

        public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment) =>
            Events.Add($"{direction.ToShortName()}#{segment.FrameNumber}:gap {missingBytes}");

        public void OnDatagram(FlowDirection direction, ReadOnlySpan<byte> datagram, SegmentInfo segment) =>
            OnData(direction, datagram, segment);

        public void OnEnd(long timestampNs) => Ends++;
    }

    private long _frame;

    private void Send(IngestPipeline pipeline, bool fromClient, double ms, uint seq, uint ack, TcpFlags flags, string data = "",
        ushort clientPort = ClientPort, ushort serverPort = ServerPort)
    {
        var p = Packet(fromClient, ms, seq, ack, flags, data.Length, frame: ++_frame);
        if (fromClient) p.SourcePort = clientPort; else p.DestinationPort = clientPort;
        if (fromClient) p.DestinationPort = serverPort; else p.SourcePort = serverPort;
        pipeline.ProcessPacket(p, Encoding.ASCII.GetBytes(data));
    }

    private void Conversation(IngestPipeline pipeline, string request, string response, ushort clientPort = ClientPort, ushort serverPort = ServerPort, double t0 = 0)
    {
        Send(pipeline, true, t0 + 0, 1000, 0, S, clientPort: clientPort, serverPort: serverPort);
        Send(pipeline, false, t0 + 1, 5000, 1001, SA, clientPort: clientPort, serverPort: serverPort);
        Send(pipeline, true, t0 + 2, 1001, 5001, A, clientPort: clientPort, serverPort: serverPort);
        // The request in two segments; the first is too short for the classifier to decide.
        Send(pipeline, true, t0 + 3, 1001, 5001, PA, request[..3], clientPort, serverPort);
        Send(pipeline, true, t0 + 4, 1004, 5001, PA, request[3..], clientPort, serverPort);
        Send(pipeline, false, t0 + 5, 5001, 1001 + (uint)request.Length, PA, response, clientPort, serverPort);
        Send(pipeline, true, t0 + 6, 1001 + (uint)request.Length, 5001 + (uint)response.Length, FA, clientPort: clientPort, serverPort: serverPort);
    }

    [Fact]
    public void ContentClassificationReplaysBufferedBytesToTheChosenParser()
    {
        var fake = new FakeProtocol("fake", "HELLO", 9999);
        var other = new FakeProtocol("other", "BYE", 9998);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new IStreamProtocol[] { other, fake });
        Conversation(pipeline, "HELLO world", "OK");
        pipeline.Complete();

        var parser = Assert.Single(fake.Parsers);
        Assert.Empty(other.Parsers);
        Assert.Equal(new[] { "c2s#4:HEL", "c2s#5:LO world", "s2c#6:OK" }, parser.Events);
        Assert.Equal(1, parser.Ends);
        Assert.Equal(TcpScenario.ClientIp, parser.Flow.ClientIp);
        Assert.Equal(ServerPort, parser.Flow.ServerPort);
        Assert.Equal(0, parser.Flow.ConnectionId);
        Assert.Equal("fake", Assert.Single(rows.Rows).Protocol);
    }

    [Fact]
    public void WellKnownPortDecidesWhenContentDoesNot()
    {
        var fake = new FakeProtocol("fake", "HELLO", 8080);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new[] { fake });
        Conversation(pipeline, "GET / HTTP/1.1", "200", serverPort: 8080);
        pipeline.Complete();
        var parser = Assert.Single(fake.Parsers);
        Assert.Equal("c2s#4:GET", parser.Events[0]);
        Assert.Equal("fake", rows.Rows[0].Protocol);
    }

    [Fact]
    public void NoMatchLeavesTheConnectionUnparsed()
    {
        var fake = new FakeProtocol("fake", "HELLO", 8080);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new[] { fake });
        Conversation(pipeline, "SSH-2.0-OpenSSH", "SSH-2.0-x");
        pipeline.Complete();
        Assert.Empty(fake.Parsers);
        Assert.Equal("", rows.Rows[0].Protocol);
        Assert.Equal(15, rows.Rows[0].UniquePayloadC2S);
    }

    [Fact]
    public void PortReuseEndsTheOldParserAndRowsStayInFirstPacketOrder()
    {
        var fake = new FakeProtocol("fake", "HELLO", 0);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new[] { fake });
        Conversation(pipeline, "HELLO one", "1");
        Conversation(pipeline, "HELLO two", "2", clientPort: 40001, t0: 100);
        // Same 5-tuple as the first, new ISN: a new stream (2).
        Send(pipeline, true, 200, 777_000, 0, S);
        Assert.Equal(1, fake.Parsers[0].Ends);
        Assert.Equal(0, fake.Parsers[1].Ends);
        pipeline.Complete();
        Assert.Equal(new long[] { 0, 1, 2 }, rows.Rows.Select(r => r.Stream));
        Assert.Equal(1, rows.Rows[2].ReusedPorts);
        Assert.All(fake.Parsers, p => Assert.Equal(1, p.Ends));
    }

    [Fact]
    public void UdpDatagramsAreDispatchedAndRowsInterleaveByFirstPacket()
    {
        var fake = new FakeProtocol("fakedns", "Q", 53);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, Array.Empty<IStreamProtocol>(), new IDatagramProtocol[] { fake });
        var q = Packet(true, 0, 0, 0, 0, 5, frame: 1);
        q.Protocol = IpProtocol.Udp;
        q.DestinationPort = 53;
        pipeline.ProcessPacket(q, "Qabcd"u8);
        Conversation(pipeline, "xyzzy", "y");
        var a = Packet(false, 1, 0, 0, 0, 5, frame: 99);
        a.Protocol = IpProtocol.Udp;
        a.SourcePort = 53;
        pipeline.ProcessPacket(a, "Rabcd"u8);
        pipeline.Complete();

        var parser = Assert.Single(fake.Parsers);
        Assert.Equal(new[] { "c2s#1:Qabcd", "s2c#99:Rabcd" }, parser.Events);
        Assert.Equal(ConnectionRecord.UdpConnectionIdBase, parser.Flow.ConnectionId);
        Assert.Equal(new[] { Transport.Udp, Transport.Tcp }, rows.Rows.Select(r => r.Transport));
        Assert.Equal("fakedns", rows.Rows[0].Protocol);
    }

    [Fact]
    public void IdleTimeoutClosesFlowsInLiveMode()
    {
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, options: new IngestOptions { IdleTimeout = TimeSpan.FromSeconds(1) });
        Conversation(pipeline, "abc", "d");
        Assert.Empty(rows.Rows);
        Conversation(pipeline, "abc", "d", clientPort: 40001, t0: 5000);
        var first = Assert.Single(rows.Rows);
        Assert.Equal(CloseReason.Fin, first.CloseReason); // it did close with a FIN before timing out
        pipeline.Complete();
        Assert.Equal(2, rows.Rows.Count);
    }

    [Fact]
    public void IdleTimeoutReasonWhenNoFinOrRst()
    {
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, options: new IngestOptions { IdleTimeout = TimeSpan.FromSeconds(1) });
        Send(pipeline, true, 0, 1, 1, PA, "abc");
        Send(pipeline, true, 5000, 1, 1, PA, "abc", clientPort: 40001);
        Assert.Equal(CloseReason.IdleTimeout, Assert.Single(rows.Rows).CloseReason);
    }

    [Fact]
    public void FrameObserverSeesEveryFrameWithItsConnection()
    {
        var observer = new RecordingObserver();
        var rows = new ListSink<ConnectionRecord>();
        using var source = CaptureFile.Open(SharedData.Pcap("sll-mixed-http-dns.pcap"));
        var result = new IngestPipeline(rows, options: new IngestOptions { FrameObserver = observer }).Run(source);
        Assert.Equal(518, result.Frames); // capinfos
        Assert.Equal(Enumerable.Range(1, 518).Select(i => (long)i), observer.Frames);
        var tcp = rows.Rows.Single(r => r.Transport == Transport.Tcp);
        Assert.Equal(tcp.PacketsC2S + tcp.PacketsS2C, observer.ConnectionIds.Count(id => id == tcp.ConnectionId));
        Assert.Contains(-1L, observer.ConnectionIds); // ARP and friends
    }

    private sealed class RecordingObserver : IFrameObserver
    {
        public List<long> Frames { get; } = new();
        public List<long> ConnectionIds { get; } = new();

        public void OnFrame(in CaptureFrame frame, long connectionId, bool decoded, in TrafficStore.Ingest.Decode.DecodedPacket packet, ReadOnlySpan<byte> payload)
        {
            if (connectionId >= 0) Assert.True(decoded && (packet.IsTcp || packet.IsUdp));
            Frames.Add(frame.Number);
            ConnectionIds.Add(connectionId);
        }
    }

    [Fact]
    public void PacketsOfAKnownConnectionDoNotAllocate()
    {
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows);
        var data = new byte[1000];
        var c = Packet(true, 0, 1000, 5001, PA, 1000);
        var s = Packet(false, 0, 5001, 0, A, 0);
        uint seq = 1000;
        void Step(int i)
        {
            c.Sequence = seq; c.TimestampNs += 1000; c.FrameNumber = 2 * i;
            pipeline.ProcessPacket(c, data);
            seq += 1000;
            s.Acknowledgment = seq; s.TimestampNs += 1000; s.FrameNumber = 2 * i + 1;
            pipeline.ProcessPacket(s, ReadOnlySpan<byte>.Empty);
        }
        for (int i = 0; i < 100; i++) Step(i);
        int next = 100;
        Assert.Equal(0, Allocations.LeastOf(3, () => { for (int end = next + 10_000; next < end; next++) Step(next); }));
    }

    [Fact]
    public void DecodeToFlowPathOnARealCaptureAllocatesLittlePerPacket()
    {
        // Whole-file run: allocations are per connection (and per out-of-order segment), not per packet. Each round reads
        // the file from its start into an empty pipeline, both made outside the measurement.
        IngestPipeline pipeline = null!;
        IngestResult result = default!;
        long allocated = Allocations.LeastOf(3, () =>
        {
            pipeline = new IngestPipeline(new ListSink<ConnectionRecord>());
            return CaptureFile.Open(SharedData.Pcap("tcp-window-full-iso-download.pcap"));
        }, source => result = pipeline.Run(source));
        Assert.Equal(289, result.Frames);
        Assert.True(allocated / result.Frames < 200, $"{allocated} bytes for {result.Frames} frames");
    }

    [Fact]
    public void RandomGarbagePacketsNeverThrow()
    {
        var rng = new Random(12345);
        var fake = new FakeProtocol("fake", "HE", 80);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new[] { fake }, options: new IngestOptions { ReassemblyBufferBytes = 4096, ClassificationBytes = 64 });
        var buffer = new byte[3000];
        rng.NextBytes(buffer);
        for (int i = 0; i < 30_000; i++)
        {
            int len = rng.Next(4) == 0 ? rng.Next(-1, 3000) : rng.Next(0, 40);
            var p = Packet(rng.Next(2) == 0, i * 0.1, (uint)rng.Next(8) * 0x3FFF_FFFFu + (uint)rng.Next(200), (uint)rng.Next(), (TcpFlags)rng.Next(0x200),
                len: Math.Max(len, 0), win: (ushort)rng.Next(3), captured: rng.Next(0, Math.Max(len, 0) + 1));
            p.PayloadLength = len;
            p.SourcePort = (ushort)(p.SourcePort + rng.Next(3));
            p.WindowScale = (sbyte)rng.Next(-1, 20);
            buffer[rng.Next(buffer.Length)] = (byte)'H';
            pipeline.ProcessPacket(p, buffer.AsSpan(0, rng.Next(0, 3000)));
        }
        pipeline.Complete();
        Assert.NotEmpty(rows.Rows);
        Assert.All(fake.Parsers, parser => Assert.Equal(1, parser.Ends));
    }

    [Fact]
    public void FirstSegmentLargerThanTheClassificationBufferIsStillClassifiedByContent()
    {
        var fake = new FakeProtocol("fake", "HELLO", 0);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new[] { fake }, options: new IngestOptions { ClassificationBytes = 8 });
        string big = "HELLO " + new string('x', 30);
        Send(pipeline, true, 0, 1000, 0, S);
        Send(pipeline, true, 1, 1001, 0, PA, big);
        pipeline.Complete();
        var parser = Assert.Single(fake.Parsers);
        Assert.Equal(big, string.Concat(parser.Events.Select(e => e[(e.IndexOf(':') + 1)..])));
        Assert.Equal("", rows.Rows[0].Anomalies);
    }

    [Fact]
    public void ClassificationCapWithoutAContentMatchIsAnAnomaly()
    {
        var fake = new FakeProtocol("fake", "HELLOHELLOHELLO", 8080);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new[] { fake }, options: new IngestOptions { ClassificationBytes = 8 });
        Send(pipeline, true, 0, 1000, 0, S, serverPort: 8080);
        Send(pipeline, true, 1, 1001, 0, PA, "HELLOHE", serverPort: 8080);   // NeedMoreData
        Send(pipeline, true, 2, 1008, 0, PA, "LLOHELLO", serverPort: 8080);  // overflows the 8-byte buffer
        pipeline.Complete();
        var parser = Assert.Single(fake.Parsers); // decided by port
        Assert.Equal("HELLOHELLOHELLO", string.Concat(parser.Events.Select(e => e[(e.IndexOf(':') + 1)..])));
        Assert.Equal("classification_cap_hit:1", rows.Rows[0].Anomalies);
    }

    [Fact]
    public void ClosedConnectionsEndAfterTheLingerInLiveMode()
    {
        var fake = new FakeProtocol("fake", "HELLO", 0);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new[] { fake },
            options: new IngestOptions { IdleTimeout = TimeSpan.FromMinutes(10), ClosedLinger = TimeSpan.FromSeconds(2) });
        Send(pipeline, true, 0, 1000, 0, S);
        Send(pipeline, false, 1, 5000, 1001, SA);
        Send(pipeline, true, 2, 1001, 5001, PA, "HELLO");
        Send(pipeline, false, 3, 5001, 1006, RA);
        Send(pipeline, true, 3000, 1, 1, PA, "other", clientPort: 40001); // 3 s later, another connection
        Assert.Equal(1, Assert.Single(fake.Parsers).Ends);
        var row = Assert.Single(rows.Rows);
        Assert.Equal(CloseReason.Rst, row.CloseReason);
        pipeline.Complete();
        Assert.Equal(2, rows.Rows.Count);
    }

    [Fact]
    public void ReassemblyCapHitIsCountedOnTheRow()
    {
        var fake = new FakeProtocol("fake", "HELLO", 0);
        var rows = new ListSink<ConnectionRecord>();
        var pipeline = new IngestPipeline(rows, new[] { fake }, options: new IngestOptions { ReassemblyBufferBytes = 10 });
        Send(pipeline, true, 0, 1000, 0, S);
        Send(pipeline, true, 1, 1001, 0, PA, "HELLO");
        Send(pipeline, true, 2, 1106, 0, PA, "0123456789");  // hole of 100 bytes: buffered (10 bytes)
        Send(pipeline, true, 3, 1206, 0, PA, "abcdef");      // would exceed 10: give up the holes
        pipeline.Complete();
        var row = Assert.Single(rows.Rows);
        Assert.Equal("reassembly_cap_hit:1", row.Anomalies);
        Assert.Equal(2, row.ReassemblyGaps);
        Assert.Equal(190, row.ReassemblyGapBytes);
        Assert.Equal(new[] { "c2s#2:HELLO", "c2s#3:gap 100", "c2s#3:0123456789", "c2s#4:gap 90", "c2s#4:abcdef" }, fake.Parsers[0].Events);
    }
}
