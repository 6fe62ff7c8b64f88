using System.IO.Compression;
using System.Text;
using TrafficStore.Ingest.Protocols.Http2;
using static TrafficStore.Ingest.Tests.Protocols.Http2.H2;
using T = TrafficStore.Ingest.Protocols.Http2.Http2FrameType;

namespace TrafficStore.Ingest.Tests.Protocols.Http2;

/// <summary>Hand-made connections, each exercising one part of RFC 9113; shared by the tests.</summary>
public static class H2Scripts
{
    private const int EndStream = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;
    private const long Ms = 1_000_000;

    private static H2Segment C(long frame, params byte[][] parts) => new(C2S, Concat(parts), frame, frame * Ms);
    private static H2Segment S(long frame, params byte[][] parts) => new(S2C, Concat(parts), frame, frame * Ms);

    private static readonly string[] Get =
        { ":method", "GET", ":scheme", "http", ":path", "/index.html", ":authority", "example.com", "user-agent", "test/1" };

    /// <summary>GET and 200 with a body in two DATA frames.</summary>
    public static H2Segment[] SimpleGet() => new[]
    {
        C(1, Preface, Settings((1, 4096)), Frame(T.Headers, EndStream | EndHeaders, 1, Block(Get))),
        S(2, Settings(), Frame(T.Settings, 1, 0)),
        S(3, Frame(T.Headers, EndHeaders, 1, Block(":status", "200", "content-type", "text/html"))),
        S(4, Frame(T.Data, 0, 1, Encoding.ASCII.GetBytes("<html>")), Frame(T.Data, EndStream, 1, Encoding.ASCII.GetBytes("</html>"))),
        C(5, Frame(T.Settings, 1, 0)),
    };

    /// <summary>
    /// POST with a padded HEADERS carrying priority fields, and padded DATA frames (Pad Length + padding
    /// count in req_body, as tshark's http2.length; the stored body has no padding).
    /// </summary>
    public static H2Segment[] PaddedPost()
    {
        var block = Block(":method", "POST", ":scheme", "http", ":path", "/upload", ":authority", "example.com");
        // Pad Length 3, E + Stream Dependency 0, Weight 15, block, 3 octets of padding
        var headers = Concat(new byte[] { 3 }, U32(0), new byte[] { 15 }, block, new byte[3]);
        var data1 = Concat(new byte[] { 4 }, Encoding.ASCII.GetBytes("hello"), new byte[4]); // length 10
        var data2 = Concat(new byte[] { 0 }, Encoding.ASCII.GetBytes(" world")); // length 7, Pad Length 0
        return new[]
        {
            C(1, Preface, Settings(), Frame(T.Headers, EndHeaders | Padded | Priority, 1, headers)),
            C(2, Frame(T.Data, Padded, 1, data1), Frame(T.Data, Padded | EndStream, 1, data2)),
            S(3, Settings(), Frame(T.Headers, EndHeaders | EndStream, 1, Block(":status", "204"))),
        };
    }

    /// <summary>A request block split over HEADERS + 2 CONTINUATION frames, the last in a later segment.</summary>
    public static H2Segment[] Continuation()
    {
        var block = Block(Get.Concat(new[] { "x-long", new string('a', 300) }).ToArray());
        return new[]
        {
            C(1, Preface, Settings(), Frame(T.Headers, EndStream, 3, block[..10]), Frame(T.Continuation, 0, 3, block[10..200])),
            C(2, Frame(T.Continuation, EndHeaders, 3, block[200..])),
            S(3, Settings(), Frame(T.Headers, EndHeaders | EndStream, 3, Block(":status", "404"))),
        };
    }

    /// <summary>A CONTINUATION sequence interrupted by a DATA frame (RFC 9113 §6.10 violation).</summary>
    public static H2Segment[] InterruptedContinuation()
    {
        var block = Block(Get);
        return new[]
        {
            C(1, Preface, Settings(), Frame(T.Headers, 0, 1, block[..12]), Frame(T.Data, EndStream, 1, new byte[] { 1, 2 })),
            S(2, Frame(T.Headers, EndHeaders | EndStream, 1, Block(":status", "400"))),
        };
    }

    /// <summary>Server push: PUSH_PROMISE on stream 1 promises stream 2; both answered.</summary>
    public static H2Segment[] Push() => new[]
    {
        C(1, Preface, Settings(), Frame(T.Headers, EndStream | EndHeaders, 1, Block(Get))),
        S(2, Settings(), Frame(T.PushPromise, EndHeaders, 1, Concat(U32(2), Block(":method", "GET", ":scheme", "http", ":path", "/style.css", ":authority", "example.com")))),
        S(3, Frame(T.Headers, EndHeaders, 1, Block(":status", "200", "content-type", "text/html")), Frame(T.Data, EndStream, 1, Encoding.ASCII.GetBytes("<p>"))),
        S(4, Frame(T.Headers, EndHeaders, 2, Block(":status", "200", "content-type", "text/css")), Frame(T.Data, EndStream, 2, Encoding.ASCII.GetBytes("p{}"))),
    };

    /// <summary>
    /// The client cancels stream 1 (RST_STREAM CANCEL = 0x8) after the response headers; DATA the
    /// server had in flight arrives after the reset and belongs to no new row.
    /// </summary>
    public static H2Segment[] Reset() => new[]
    {
        C(1, Preface, Settings(), Frame(T.Headers, EndStream | EndHeaders, 1, Block(Get))),
        S(2, Frame(T.Headers, EndHeaders, 1, Block(":status", "200")), Frame(T.Data, 0, 1, new byte[100])),
        C(3, Frame(T.RstStream, 0, 1, U32(8))),
        S(4, Frame(T.Data, 0, 1, new byte[50]), Frame(T.Headers, EndHeaders | EndStream, 1, Block("grpc-status", "1"))),
    };

    /// <summary>The client refuses a pushed stream before the server answers it; the server's frames for it still arrive.</summary>
    public static H2Segment[] RefusedPush() => new[]
    {
        C(1, Preface, Settings(), Frame(T.Headers, EndStream | EndHeaders, 1, Block(Get))),
        S(2, Frame(T.PushPromise, EndHeaders, 1, Concat(U32(2), Block(":method", "GET", ":scheme", "http", ":path", "/pushed.js", ":authority", "example.com")))),
        C(3, Frame(T.RstStream, 0, 2, U32(7))),
        S(4, Frame(T.Headers, EndHeaders, 2, Block(":status", "200")), Frame(T.Data, EndStream, 2, new byte[10]),
            Frame(T.Headers, EndHeaders | EndStream, 1, Block(":status", "200"))),
    };

    /// <summary>100 Continue, then 200, then trailers; unknown frame type 0xfa and PING/WINDOW_UPDATE/PRIORITY are skipped.</summary>
    public static H2Segment[] InterimAndTrailers() => new[]
    {
        C(1, Preface, Settings(), Frame(T.Headers, EndHeaders, 1, Block(":method", "PUT", ":scheme", "https", ":path", "/x", ":authority", "h", "expect", "100-continue"))),
        S(2, Settings(), Frame(T.Headers, EndHeaders, 1, Block(":status", "100")), Frame(0xfa, 0, 0, new byte[] { 1, 2, 3 })),
        C(3, Frame(T.Data, 0, 1, new byte[] { 1, 2, 3 }), Frame(T.Ping, 0, 0, new byte[8]), Frame(T.Priority, 0, 1, new byte[5]),
            Frame(T.Headers, EndHeaders | EndStream, 1, Block("x-checksum", "abc"))),
        S(4, Frame(T.WindowUpdate, 0, 0, U32(1000)), Frame(T.Headers, EndHeaders, 1, Block(":status", "201", "content-type", "text/plain"))),
        S(5, Frame(T.Data, 0, 1, new byte[] { 9 }), Frame(T.Headers, EndHeaders | EndStream, 1, Block("x-trailer", "done"))),
    };

    /// <summary>
    /// A unary gRPC call: the request message split over two DATA frames, two response messages in
    /// one DATA frame (the second compressed), trailers with a percent-encoded grpc-message.
    /// </summary>
    public static H2Segment[] GrpcUnary()
    {
        var request = Concat(new byte[] { 0 }, U32(6), Encoding.ASCII.GetBytes("abcdef"));
        var response = Concat(new byte[] { 0 }, U32(2), new byte[] { 8, 1 }, new byte[] { 1 }, U32(3), new byte[] { 1, 2, 3 });
        return new[]
        {
            C(1, Preface, Settings(), Frame(T.Headers, EndHeaders, 1, Block(":method", "POST", ":scheme", "http", ":path", "/helloworld.Greeter/SayHello",
                ":authority", "localhost:50051", "content-type", "application/grpc", "te", "trailers"))),
            C(2, Frame(T.Data, 0, 1, request[..3])),
            C(3, Frame(T.Data, EndStream, 1, request[3..])),
            S(4, Settings(), Frame(T.Headers, EndHeaders, 1, Block(":status", "200", "content-type", "application/grpc+proto"))),
            S(5, Frame(T.Data, 0, 1, response), Frame(T.Headers, EndHeaders | EndStream, 1, Block("grpc-status", "3", "grpc-message", "bad%20name%3A%20%C3%A9"))),
        };
    }

    /// <summary>A trailers-only gRPC response: status in the only HEADERS frame.</summary>
    public static H2Segment[] GrpcTrailersOnly() => new[]
    {
        C(1, Preface, Settings(), Frame(T.Headers, EndHeaders | EndStream, 1, Block(":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/Missing",
            ":authority", "svc", "content-type", "application/grpc"))),
        S(2, Frame(T.Headers, EndHeaders | EndStream, 1, Block(":status", "200", "content-type", "application/grpc", "grpc-status", "12", "grpc-message", "unimplemented"))),
    };

    /// <summary>GOAWAY with last-stream-id 1 while stream 3 is open: stream 3 was not processed.</summary>
    public static H2Segment[] GoAway() => new[]
    {
        C(1, Preface, Settings(), Frame(T.Headers, EndStream | EndHeaders, 1, Block(Get)), Frame(T.Headers, EndStream | EndHeaders, 3, Block(Get))),
        S(2, Frame(T.GoAway, 0, 0, Concat(U32(1), U32(0))), Frame(T.Headers, EndHeaders | EndStream, 1, Block(":status", "200"))),
    };

    /// <summary>Dynamic table across requests: the second request refers to an entry the first one inserted.</summary>
    public static H2Segment[] DynamicTable() => new[]
    {
        C(1, Preface, Settings(), Frame(T.Headers, EndStream | EndHeaders, 1, Concat(new byte[] { 0x82, 0x86, 0x84 }, Indexing(":authority", "dyn.example"), Indexing("x-id", "42")))),
        // indexed 62 = x-id: 42 (newest), 63 = :authority: dyn.example
        C(2, Frame(T.Headers, EndStream | EndHeaders, 3, new byte[] { 0x82, 0x86, 0x84, 0xbf, 0xbe })),
        S(3, Frame(T.Headers, EndHeaders | EndStream, 1, Block(":status", "200")), Frame(T.Headers, EndHeaders | EndStream, 3, new byte[] { 0x88 })),
    };

    /// <summary>A gzip-encoded response body.</summary>
    public static H2Segment[] Gzip()
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(Encoding.ASCII.GetBytes(new string('z', 1000)));
        var body = ms.ToArray();
        return new[]
        {
            C(1, Preface, Settings(), Frame(T.Headers, EndStream | EndHeaders, 1, Block(Get))),
            S(2, Frame(T.Headers, EndHeaders, 1, Block(":status", "200", "content-encoding", "gzip")), Frame(T.Data, EndStream, 1, body)),
        };
    }

    /// <summary>Capture starts mid-connection: no preface, the first client segment begins inside a frame.</summary>
    public static H2Segment[] MidStream()
    {
        var earlier = Frame(T.Data, 0, 1, new byte[40]);
        return new[]
        {
            C(1, earlier[20..], Frame(T.Headers, EndStream | EndHeaders, 5, Concat(new byte[] { 0x82, 0x86, 0x84, 0xc0 }, Block(":authority", "mid.example"))),
                Frame(T.WindowUpdate, 0, 0, U32(10))),
            S(2, Frame(T.Headers, EndHeaders, 5, new byte[] { 0x88 }), Frame(T.Data, EndStream, 5, new byte[] { 7 })),
        };
    }

    /// <summary>Both sides picked up mid-frame: the server's first segment starts with the tail of a DATA frame.</summary>
    public static H2Segment[] MidStreamBothSides()
    {
        var earlier = Frame(T.Data, 0, 3, Enumerable.Repeat((byte)0xee, 30).ToArray());
        return new[]
        {
            C(1, earlier[7..], Frame(T.Headers, EndStream | EndHeaders, 7, new byte[] { 0x83, 0x86, 0x85, 0x41, 0x01, (byte)'m' }), Frame(T.Ping, 0, 0, new byte[8])),
            S(2, earlier[13..], Frame(T.Headers, EndHeaders, 7, new byte[] { 0x8d }), Frame(T.Data, EndStream, 7, new byte[] { 1, 2, 3 })),
        };
    }

    /// <summary>h2c after Upgrade: preface, then the response to the HTTP/1.1 request on stream 1.</summary>
    public static H2Segment[] Upgraded() => new[]
    {
        C(1, Preface, Settings()),
        S(2, Settings(), Frame(T.Headers, EndHeaders, 1, Block(":status", "200", "content-type", "text/plain")), Frame(T.Data, EndStream, 1, Encoding.ASCII.GetBytes("upgraded"))),
        C(3, Frame(T.Headers, EndStream | EndHeaders, 3, Block(Get))),
        S(4, Frame(T.Headers, EndHeaders | EndStream, 3, Block(":status", "304"))),
    };

    public static IReadOnlyDictionary<string, Func<H2Segment[]>> All { get; } = new Dictionary<string, Func<H2Segment[]>>
    {
        [nameof(SimpleGet)] = SimpleGet,
        [nameof(PaddedPost)] = PaddedPost,
        [nameof(Continuation)] = Continuation,
        [nameof(InterruptedContinuation)] = InterruptedContinuation,
        [nameof(Push)] = Push,
        [nameof(Reset)] = Reset,
        [nameof(RefusedPush)] = RefusedPush,
        [nameof(InterimAndTrailers)] = InterimAndTrailers,
        [nameof(GrpcUnary)] = GrpcUnary,
        [nameof(GrpcTrailersOnly)] = GrpcTrailersOnly,
        [nameof(GoAway)] = GoAway,
        [nameof(DynamicTable)] = DynamicTable,
        [nameof(Gzip)] = Gzip,
        [nameof(MidStream)] = MidStream,
        [nameof(MidStreamBothSides)] = MidStreamBothSides,
        [nameof(Upgraded)] = Upgraded,
    };
}
