using System.Text;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http2;
using static TrafficStore.Ingest.Tests.Protocols.Http2.H2;
using T = TrafficStore.Ingest.Protocols.Http2.Http2FrameType;
using TrafficStore.Ingest.Tests.Support;

namespace TrafficStore.Ingest.Tests.Protocols.Http2;

public class Http2ConnectionTests
{
    private const long Ms = 1_000_000;

    public static TheoryData<string> ScriptNames()
    {
        var data = new TheoryData<string>();
        foreach (var name in H2Scripts.All.Keys) data.Add(name);
        return data;
    }

    private static bool IsUpgraded(string name) => name == nameof(H2Scripts.Upgraded);

    [Theory]
    [MemberData(nameof(ScriptNames))]
    public void SplitInvariance(string name)
    {
        var script = H2Scripts.All[name]();
        bool upgraded = IsUpgraded(name);
        string whole = Describe(Run(script, upgraded: upgraded));
        Assert.NotEqual("", whole);
        Assert.Equal(whole, Describe(Run(script, Feed.ByteByByte, upgraded: upgraded)));
        int total = script.Sum(s => s.Data.Length);
        for (int at = 1; at < total; at++)
            Assert.Equal(whole, Describe(Run(script, splitAt: at, upgraded: upgraded)));
    }

    [Fact]
    public void SimpleGetBecomesOneRow()
    {
        var row = Assert.Single(Run(H2Scripts.SimpleGet()));
        Assert.Equal("HTTP/2", row.Protocol);
        Assert.Equal(1, row.H2StreamId);
        Assert.Equal(7, row.ConnectionId);
        Assert.Equal(("10.0.0.1", 40000, "10.0.0.2", 50051), (row.ClientIp, row.ClientPort, row.ServerIp, row.ServerPort));
        Assert.Equal(("GET", "example.com", "/index.html"), (row.Method, row.Host, row.Uri));
        Assert.Equal(1, row.RequestFrame);
        Assert.Equal(1 * Ms, row.RequestTimestampNs);
        Assert.Equal(1 * Ms, row.RequestLastByteNs);
        Assert.Equal(0, row.RequestBodyLength);
        Assert.Equal(200, row.Status);
        Assert.Equal(3, row.ResponseFrame);
        Assert.Equal(3 * Ms, row.ResponseFirstByteNs);
        Assert.Equal(4 * Ms, row.ResponseLastByteNs);
        Assert.Equal(2 * Ms, row.TimeNs);
        Assert.Equal("text/html", row.ContentType);
        Assert.Equal(13, row.ResponseBodyLength);
        Assert.Equal("<html></html>", Encoding.ASCII.GetString(row.ResponseBody!));
        Assert.Equal(13, row.ResponseBodyDecodedLength);
        Assert.Equal(":method", row.RequestHeaders[0].Key);
        Assert.Equal(5, row.RequestHeaders.Count);
        Assert.Empty(row.Anomalies);
    }

    [Fact]
    public void PaddingIsCountedInLengthsButNotKeptInBodies()
    {
        var row = Assert.Single(Run(H2Scripts.PaddedPost()));
        Assert.Equal(("POST", "/upload"), (row.Method, row.Uri));
        Assert.Equal(17, row.RequestBodyLength); // DATA frame lengths 10 + 7
        Assert.Equal("hello world", Encoding.ASCII.GetString(row.RequestBody!));
        Assert.Equal(204, row.Status);
        Assert.Equal(0, row.ResponseBodyLength);
        Assert.Empty(row.Anomalies);
    }

    [Fact]
    public void ContinuationFramesCompleteTheRequestBlock()
    {
        var row = Assert.Single(Run(H2Scripts.Continuation()));
        Assert.Equal(3, row.H2StreamId);
        Assert.Equal(new string('a', 300), row.RequestHeaders.Single(h => h.Key == "x-long").Value);
        Assert.Equal(2, row.RequestFrame); // the frame carrying the block's last CONTINUATION
        Assert.Equal(1 * Ms, row.RequestFirstByteNs);
        Assert.Equal(2 * Ms, row.RequestLastByteNs); // END_STREAM on the HEADERS takes effect with the block
        Assert.Equal(404, row.Status);
        Assert.Empty(row.Anomalies);
    }

    [Fact]
    public void InterruptedContinuationIsAnAnomaly()
    {
        var row = Assert.Single(Run(H2Scripts.InterruptedContinuation()));
        Assert.Contains(Http2Anomalies.ContinuationExpected, row.Anomalies);
        Assert.Contains(Http2Anomalies.HpackDecodeError, row.Anomalies);
        Assert.Equal(400, row.Status);
    }

    [Fact]
    public void PushPromiseCreatesARowWhoseRequestTheServerSent()
    {
        var rows = Run(H2Scripts.Push()).OrderBy(r => r.H2StreamId).ToList();
        Assert.Equal(2, rows.Count);
        var pushed = rows[1];
        Assert.Equal(2, pushed.H2StreamId);
        Assert.Equal(("GET", "/style.css"), (pushed.Method, pushed.Uri));
        Assert.Equal(2, pushed.RequestFrame);
        Assert.Equal("10.0.0.1", pushed.ClientIp); // the receiver of the push is the client
        Assert.Equal("text/css", pushed.ContentType);
        Assert.Equal("p{}", Encoding.ASCII.GetString(pushed.ResponseBody!));
        Assert.Equal(0, pushed.RequestBodyLength);
        Assert.Equal("/index.html", rows[0].Uri);
        Assert.Equal(3, rows[0].ResponseBodyLength);
    }

    [Fact]
    public void ResetStreamEndsTheRowWithItsCode()
    {
        var row = Assert.Single(Run(H2Scripts.Reset(), beforeEnd: _ => { }));
        Assert.Equal(8, row.H2ResetCode);
        Assert.Equal(100, row.ResponseBodyLength);
        Assert.DoesNotContain(Http2Anomalies.StreamIncomplete, row.Anomalies);
    }

    [Fact]
    public void RefusedPushIsOneRowWithTheResetCode()
    {
        var rows = Run(H2Scripts.RefusedPush()).OrderBy(r => r.H2StreamId).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(("/pushed.js", 7L), (rows[1].Uri, rows[1].H2ResetCode));
        Assert.Null(rows[1].Status); // the server's late HEADERS make no second row and change nothing
        Assert.Equal(200, rows[0].Status);
    }

    [Fact]
    public void RowsLeaveWhenTheStreamCloses()
    {
        var sink = new ListSink<HttpExchange>();
        var parser = new Http2Protocol(sink).CreateParser(Flow());
        foreach (var s in H2Scripts.Reset()) parser.OnData(s.Direction, s.Data, new SegmentInfo(s.Frame, s.TimestampNs));
        Assert.Single(sink.Rows); // before OnEnd
    }

    [Fact]
    public void InterimResponsesAndTrailers()
    {
        var row = Assert.Single(Run(H2Scripts.InterimAndTrailers()));
        Assert.Equal(1, row.InterimResponses);
        Assert.Equal(201, row.Status);
        Assert.Equal(4, row.ResponseFrame);
        Assert.Equal(2 * Ms, row.ResponseFirstByteNs); // the 100 Continue
        Assert.Equal(new KeyValuePair<string, string>("x-checksum", "abc"), Assert.Single(row.RequestTrailers));
        Assert.Equal(new KeyValuePair<string, string>("x-trailer", "done"), Assert.Single(row.ResponseTrailers));
        Assert.Equal(3, row.RequestBodyLength);
        Assert.Equal(1, row.ResponseBodyLength);
        Assert.Empty(row.Anomalies);
    }

    [Fact]
    public void GrpcMessagesAreCountedAcrossFrames()
    {
        var row = Assert.Single(Run(H2Scripts.GrpcUnary()));
        Assert.Equal(("helloworld.Greeter", "SayHello"), (row.GrpcService, row.GrpcMethod));
        Assert.Equal((1, 6L), (row.GrpcRequestMessages, row.GrpcRequestMessageBytes));
        Assert.Equal((2, 5L), (row.GrpcResponseMessages, row.GrpcResponseMessageBytes));
        Assert.True(row.GrpcCompressed);
        Assert.Equal(3, row.GrpcStatus);
        Assert.Equal("bad name: é", row.GrpcMessage);
        Assert.Equal(11, row.RequestBody!.Length);
        Assert.Empty(row.Anomalies);
    }

    [Fact]
    public void GrpcTrailersOnlyResponse()
    {
        var row = Assert.Single(Run(H2Scripts.GrpcTrailersOnly()));
        Assert.Equal(("pkg.Svc", "Missing"), (row.GrpcService, row.GrpcMethod));
        Assert.Equal(12, row.GrpcStatus);
        Assert.Equal("unimplemented", row.GrpcMessage);
        Assert.Equal(0, row.GrpcRequestMessages);
    }

    [Fact]
    public void GrpcMessageCutByTheEndOfTheStream()
    {
        var script = H2Scripts.GrpcUnary();
        script[2] = script[2] with { Data = Frame(T.Data, 0x1, 1, new byte[] { 0 }) }; // END_STREAM after 4 of the 5 prefix octets
        var row = Assert.Single(Run(script));
        Assert.Contains(Http2Anomalies.GrpcMessageTruncated, row.Anomalies);
    }

    [Fact]
    public void GoAwayMarksStreamsAboveTheLastStreamId()
    {
        var rows = Run(H2Scripts.GoAway()).OrderBy(r => r.H2StreamId).ToList();
        Assert.Equal(2, rows.Count);
        Assert.DoesNotContain(Http2Anomalies.GoawayUnprocessed, rows[0].Anomalies);
        Assert.Contains(Http2Anomalies.GoawayUnprocessed, rows[1].Anomalies);
        Assert.Contains(Http2Anomalies.StreamIncomplete, rows[1].Anomalies);
    }

    [Fact]
    public void DynamicTableCarriesAcrossBlocks()
    {
        var rows = Run(H2Scripts.DynamicTable()).OrderBy(r => r.H2StreamId).ToList();
        Assert.Equal("dyn.example", rows[1].Host);
        Assert.Equal("42", rows[1].RequestHeaders.Single(h => h.Key == "x-id").Value);
        Assert.Equal(200, rows[1].Status);
        Assert.All(rows, r => Assert.Empty(r.Anomalies));
    }

    [Fact]
    public void GzipBodiesAreDecoded()
    {
        var row = Assert.Single(Run(H2Scripts.Gzip()));
        Assert.Equal(new string('z', 1000), Encoding.ASCII.GetString(row.ResponseBodyDecoded!));
        Assert.Equal(1000, row.ResponseBodyDecodedLength);
        Assert.True(row.ResponseBodyLength < 100);
    }

    [Fact]
    public void MidStreamPickupDecodesWhatItCan()
    {
        var row = Assert.Single(Run(H2Scripts.MidStream()));
        Assert.Equal(5, row.H2StreamId);
        Assert.Equal(("GET", "/", "mid.example"), (row.Method, row.Uri, row.Host));
        Assert.Equal(200, row.Status);
        Assert.Contains(Http2Anomalies.MidstreamPickup, row.Anomalies);
        Assert.Contains(Http2Anomalies.HpackUnknownIndex, row.Anomalies); // 0xc0: an entry from before the capture
    }

    [Fact]
    public void MidStreamPickupOnBothSides()
    {
        var row = Assert.Single(Run(H2Scripts.MidStreamBothSides()));
        Assert.Equal(7, row.H2StreamId);
        Assert.Equal(("POST", "/index.html", "m"), (row.Method, row.Uri, row.Host));
        Assert.Equal(404, row.Status);
        Assert.Equal(3, row.ResponseBodyLength);
        Assert.Contains(Http2Anomalies.MidstreamPickup, row.Anomalies);
        Assert.DoesNotContain(Http2Anomalies.StreamIncomplete, row.Anomalies);
    }

    [Fact]
    public void UpgradedConnectionAnswersTheHttp1RequestOnStream1()
    {
        var rows = Run(H2Scripts.Upgraded(), upgraded: true).OrderBy(r => r.H2StreamId).ToList();
        Assert.Equal(2, rows.Count);
        Assert.Null(rows[0].Method);
        Assert.Null(rows[0].RequestFrame);
        Assert.Null(rows[0].RequestBodyLength);
        Assert.Equal(200, rows[0].Status);
        Assert.Equal("upgraded", Encoding.ASCII.GetString(rows[0].ResponseBody!));
        Assert.Empty(rows[0].Anomalies);
        Assert.Equal(304, rows[1].Status);
    }

    [Fact]
    public void GapResynchronisesOnTheNextFrame()
    {
        var script = H2Scripts.SimpleGet();
        var rows = Run(script.Take(3).ToList(), beforeEnd: p =>
        {
            var info = new SegmentInfo(9, 9 * Ms);
            p.OnGap(S2C, 500, info);
            // after the gap: the tail of a lost frame, then a whole DATA frame with END_STREAM and a PING
            p.OnData(S2C, Concat(new byte[] { 0xff, 0xfe, 0xfd }, Frame(T.Data, 1, 1, new byte[] { 1, 2 }), Frame(T.Ping, 0, 0, new byte[8])), info);
        });
        var row = Assert.Single(rows);
        Assert.Contains(Http2Anomalies.DataGap, row.Anomalies);
        Assert.Equal(2, row.ResponseBodyLength);
        Assert.Equal(9 * Ms, row.ResponseLastByteNs);
        Assert.DoesNotContain(Http2Anomalies.StreamIncomplete, row.Anomalies);
    }

    [Fact]
    public void HugeFrameLengthIsSkippedNotBuffered()
    {
        var huge = new byte[] { 0xff, 0xff, 0xff, 0x0, 0x0, 0, 0, 0, 1 }; // 16 MiB DATA
        var script = new[]
        {
            new H2Segment(C2S, Concat(Preface, Frame(T.Headers, 0x5, 1, Block(":method", "GET", ":path", "/"))), 1, Ms),
            new H2Segment(S2C, Concat(Frame(T.Headers, 0x4, 1, Block(":status", "200")), huge, new byte[1000]), 2, 2 * Ms),
        };
        var row = Assert.Single(Run(script, options: new Http2Options { MaxFrameSize = 16384 }));
        Assert.Contains(Http2Anomalies.FrameTooLarge, row.Anomalies);
        Assert.Contains(Http2Anomalies.StreamIncomplete, row.Anomalies);
    }

    [Fact]
    public void HeaderListBombIsCapped()
    {
        var block = new List<byte>(Indexing("x", new string('v', 1000)));
        block.AddRange(Enumerable.Repeat((byte)0xbe, 5000)); // 5000 references to a 1 KB entry
        var script = new[]
        {
            new H2Segment(C2S, Concat(Preface, Frame(T.Headers, 0x5, 1, Concat(new byte[] { 0x82, 0x84 }, block.ToArray()))), 1, Ms),
            new H2Segment(S2C, Frame(T.Headers, 0x5, 1, Block(":status", "431")), 2, 2 * Ms),
        };
        var row = Assert.Single(Run(script, options: new Http2Options { MaxHeaderListSize = 8192 }));
        Assert.Contains(Http2Anomalies.HeaderListTooLarge, row.Anomalies);
        Assert.True(row.RequestHeaders.Count < 10);
        Assert.Equal(431, row.Status);
    }

    [Fact]
    public void BodyCapTruncatesAndFlags()
    {
        var script = new[]
        {
            new H2Segment(C2S, Concat(Preface, Frame(T.Headers, 0x4, 1, Block(":method", "POST", ":path", "/")), Frame(T.Data, 1, 1, new byte[300])), 1, Ms),
            new H2Segment(S2C, Frame(T.Headers, 0x5, 1, Block(":status", "200")), 2, 2 * Ms),
        };
        var row = Assert.Single(Run(script, options: new Http2Options { Payload = new PayloadOptions { MaxBodyBytes = 100 } }));
        Assert.True(row.BodyTruncated);
        Assert.Equal(100, row.RequestBody!.Length);
        Assert.Equal(300, row.RequestBodyLength);
        Assert.Contains(Http2Anomalies.BodyCap, row.Anomalies);
    }

    [Fact]
    public void SignalsAndCorruptContentEncoding()
    {
        var script = new[]
        {
            new H2Segment(C2S, Concat(Preface, Frame(T.Headers, 0x4, 1, Block(":method", "POST", ":path", "/", "authorization", "Bearer secret-token")),
                Frame(T.Data, 1, 1, Encoding.ASCII.GetBytes("mail me at a.person@example.org"))), 1, Ms),
            new H2Segment(S2C, Concat(Frame(T.Headers, 0x4, 1, Block(":status", "200", "content-encoding", "gzip")), Frame(T.Data, 1, 1, new byte[] { 1, 2, 3, 4, 5, 6 })), 2, 2 * Ms),
        };
        var row = Assert.Single(Run(script));
        Assert.Equal("Bearer", row.AuthScheme);
        Assert.Equal(1, row.EmailAddresses);
        Assert.Null(row.ResponseBodyDecoded);
        Assert.Equal(6, row.ResponseBodyDecodedLength);
        Assert.Contains("content_decode_failed", row.Anomalies);
    }

    [Fact]
    public void DataFramesAllocateNothingOnceBodiesAreNotKept()
    {
        var sink = new ListSink<HttpExchange>();
        var options = new Http2Options { Payload = new PayloadOptions { MaxBodyBytes = 0 } };
        var parser = new Http2Protocol(sink, options).CreateParser(Flow());
        parser.OnData(C2S, Concat(Preface, Frame(T.Headers, 0x4, 1, Block(":method", "POST", ":path", "/"))), new SegmentInfo(1, 1));
        var frame = Frame(T.Data, 0, 1, new byte[16384]);
        for (int i = 0; i < 50; i++) parser.OnData(C2S, frame, new SegmentInfo(2, 2)); // warm-up: buffers reach their size
        for (int i = 0; i < 50; i++) { parser.OnData(C2S, frame.AsSpan(0, 100), new SegmentInfo(2, 2)); parser.OnData(C2S, frame.AsSpan(100), new SegmentInfo(2, 2)); }
        long allocated = Allocations.LeastOf(3, () =>
        {
            for (int i = 0; i < 1000; i++)
            {
                parser.OnData(C2S, frame, new SegmentInfo(3, 3)); // whole frame: parsed in place
                parser.OnData(C2S, frame.AsSpan(0, 5000), new SegmentInfo(4, 4)); // split frame: gathered
                parser.OnData(C2S, frame.AsSpan(5000), new SegmentInfo(5, 5));
            }
        });
        Assert.True(allocated < 1024, $"{allocated} bytes allocated for 2000 DATA frames");
    }

    [Fact]
    public void RandomInputNeverThrows()
    {
        var random = new Random(12345);
        for (int round = 0; round < 300; round++)
        {
            var sink = new ListSink<HttpExchange>();
            var parser = new Http2Protocol(sink).CreateParser(Flow());
            if (round % 2 == 0) parser.OnData(C2S, Preface, new SegmentInfo(1, 1));
            for (int i = 0; i < 20; i++)
            {
                var bytes = new byte[random.Next(1, 200)];
                random.NextBytes(bytes);
                // bias towards plausible frame headers so that deeper code runs too
                if (random.Next(2) == 0 && bytes.Length >= 9) { bytes[0] = 0; bytes[1] = 0; bytes[3] = (byte)random.Next(0, 10); bytes[5] &= 0x7f; }
                var direction = (FlowDirection)random.Next(2);
                if (random.Next(10) == 0) parser.OnGap(direction, random.Next(1, 1000), new SegmentInfo(i, i));
                parser.OnData(direction, bytes, new SegmentInfo(i + 2, i + 2));
            }
            parser.OnEnd(100);
        }
    }

    [Fact]
    public void MutatedScriptsNeverThrow()
    {
        var random = new Random(777);
        foreach (var (name, make) in H2Scripts.All)
        {
            for (int round = 0; round < 50; round++)
            {
                var script = make().Select(s => s with { Data = (byte[])s.Data.Clone() }).ToArray();
                var seg = script[random.Next(script.Length)];
                for (int k = 0; k < 3; k++) seg.Data[random.Next(seg.Data.Length)] ^= (byte)(1 << random.Next(8));
                Run(script, upgraded: IsUpgraded(name));
            }
        }
    }
}
