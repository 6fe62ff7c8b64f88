using System.Text;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http1;
using TrafficStore.Ingest.Protocols.Http2;
using static TrafficStore.Ingest.Tests.Protocols.Http2.H2;
using T = TrafficStore.Ingest.Protocols.Http2.Http2FrameType;

namespace TrafficStore.Ingest.Tests.Protocols.Http2;

/// <summary>
/// HTTP/1.1 "Upgrade: h2c" answered by 101, handed from the HTTP/1 parser to
/// <see cref="Http2Protocol.CreateUpgradedParser"/> (RFC 7540 §3.2). The oracle's rule: the
/// HTTP/1.1 row gets the 101, the response on stream 1 is an HTTP/2 row without request half.
/// </summary>
public class H2cUpgradeTests
{
    [Fact]
    public void UpgradeHandsTheConnectionToHttp2()
    {
        var sink = new ListSink<HttpExchange>();
        var h2 = new Http2Protocol(sink);
        var h1 = new Http1Protocol(sink, null, h2.CreateUpgradedParser);
        var parser = h1.CreateParser(Flow());
        var request = Encoding.ASCII.GetBytes("GET /hello HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n");
        var switching = Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n");
        parser.OnData(C2S, request, new SegmentInfo(1, 1_000));
        parser.OnData(C2S, Concat(Preface, Settings()), new SegmentInfo(2, 2_000));
        parser.OnData(S2C, Concat(switching, Settings(), Frame(T.Headers, 0x4, 1, Block(":status", "200", "content-type", "text/plain"))), new SegmentInfo(3, 3_000));
        parser.OnData(S2C, Frame(T.Data, 0x1, 1, Encoding.ASCII.GetBytes("hi")), new SegmentInfo(4, 4_000));
        parser.OnData(C2S, Frame(T.Headers, 0x5, 3, Block(":method", "GET", ":scheme", "http", ":path", "/next", ":authority", "example.com")), new SegmentInfo(5, 5_000));
        parser.OnData(S2C, Frame(T.Headers, 0x5, 3, Block(":status", "204")), new SegmentInfo(6, 6_000));
        parser.OnEnd(7_000);

        var http1 = Assert.Single(sink.Rows, r => r.Protocol == "HTTP/1.1");
        Assert.Equal(101, http1.Status);
        Assert.Equal("/hello", http1.Uri);
        var streams = sink.Rows.Where(r => r.Protocol == "HTTP/2").OrderBy(r => r.H2StreamId).ToList();
        Assert.Equal(2, streams.Count);
        Assert.Equal(1, streams[0].H2StreamId);
        Assert.Null(streams[0].Method);
        Assert.Null(streams[0].RequestFrame);
        Assert.Equal(200, streams[0].Status);
        Assert.Equal(3, streams[0].ResponseFrame);
        Assert.Equal(2, streams[0].ResponseBodyLength);
        Assert.Equal(("/next", 204), (streams[1].Uri, streams[1].Status));
        Assert.DoesNotContain(Http2Anomalies.MidstreamPickup, streams[0].Anomalies);
    }
}
