using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Tests.Protocols.Http;
using static TrafficStore.Ingest.Tests.Protocols.Http1.Http1TestParser;

namespace TrafficStore.Ingest.Tests.Protocols.Http1;

public class Http1FramingTests
{
    private static readonly long T0 = StreamStep.At(0).TimestampNs;
    private static long Ts(long frame) => StreamStep.At(frame).TimestampNs;

    [Fact]
    public void ContentLengthExchangeFillsEveryOracleColumn()
    {
        var rows = Parse(new Conversation()
            .Client("GET /index.html?a=1 HTTP/1.1\r\nHost: example.org\r\nUser-Agent: t\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 11\r\n\r\nhello")
            .Server(" world"));
        var x = Assert.Single(rows);
        Assert.Equal("HTTP/1.1", x.Protocol);
        Assert.Equal(7, x.ConnectionId);
        Assert.Equal(("10.0.0.1", 40000, "10.0.0.2", 80), (x.ClientIp, x.ClientPort, x.ServerIp, x.ServerPort));
        Assert.Equal(("GET", "example.org", "/index.html?a=1"), (x.Method, x.Host, x.Uri));
        Assert.Equal(1, x.RequestFrame);
        Assert.Equal(Ts(1), x.RequestTimestampNs);
        Assert.Null(x.RequestBodyLength);
        Assert.Equal(3, x.ResponseFrame);
        Assert.Equal(Ts(2), x.ResponseFirstByteNs);
        Assert.Equal(Ts(3), x.ResponseLastByteNs);
        Assert.Equal(200, x.Status);
        Assert.Equal("OK", x.Reason);
        Assert.Equal("text/plain; charset=UTF-8", x.ContentType);
        Assert.Equal(11, x.ResponseBodyLength);
        Assert.Equal(11, x.ResponseBodyDecodedLength);
        Assert.Equal("hello world", HttpRows.Text(x.ResponseBody));
        Assert.Equal(Ts(3) - Ts(1), x.TimeNs);
        Assert.Equal(new[] { "Host", "User-Agent" }, x.RequestHeaders.Select(h => h.Key));
        Assert.Empty(x.Anomalies);
        Assert.True(T0 < x.RequestTimestampNs);
    }

    [Fact]
    public void FivePipelinedRequestsInOneSegmentPairInOrder()
    {
        string requests = string.Concat(Enumerable.Range(1, 5).Select(i => $"GET /r{i} HTTP/1.1\r\nHost: h\r\n\r\n"));
        string responses = string.Concat(Enumerable.Range(1, 5).Select(i => $"HTTP/1.1 200 OK\r\nContent-Length: {i}\r\n\r\n{new string('x', i)}"));
        var rows = Parse(new Conversation().Client(requests).Server(responses[..40]).Server(responses[40..]));
        Assert.Equal(5, rows.Count);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal($"/r{i + 1}", rows[i].Uri);
            Assert.Equal(1, rows[i].RequestFrame);
            Assert.Equal(i + 1, rows[i].ResponseBodyLength);
        }
        Assert.Equal(2, rows[0].ResponseFrame);
        Assert.Equal(3, rows[4].ResponseFrame);
    }

    [Fact]
    public void ExpectContinueCountsTheInterimResponseAndPairsTheFinalOne()
    {
        var rows = Parse(new Conversation()
            .Client("POST /up HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            .Server("HTTP/1.1 100 Continue\r\n\r\n")
            .Client("data")
            .Server("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal(1, x.InterimResponses);
        Assert.Equal(201, x.Status);
        Assert.Equal(3, x.RequestFrame);
        Assert.Equal(Ts(1), x.RequestFirstByteNs);
        Assert.Equal(4, x.RequestBodyLength);
        Assert.Equal(4, x.ResponseFrame);
        Assert.Null(x.ResponseBodyLength);
    }

    [Fact]
    public void HeadResponseHasNoBodyDespiteContentLength()
    {
        var rows = Parse(new Conversation()
            .Client("HEAD /big HTTP/1.1\r\nHost: h\r\n\r\nGET /small HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        Assert.Equal(2, rows.Count);
        Assert.Null(rows[0].ResponseBodyLength);
        Assert.Equal("ok", HttpRows.Text(rows[1].ResponseBody));
        Assert.All(rows, r => Assert.Empty(r.Anomalies));
    }

    [Theory]
    [InlineData(204)]
    [InlineData(304)]
    public void NoContentAndNotModifiedHaveNoBody(int status)
    {
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server($"HTTP/1.1 {status} X\r\nContent-Length: 10\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"));
        Assert.Equal(2, rows.Count);
        Assert.Equal(status, rows[0].Status);
        Assert.Null(rows[0].ResponseBodyLength);
        Assert.Equal(1, rows[1].ResponseBodyLength);
    }

    [Fact]
    public void ChunkedBodyWithExtensionsAndTrailersIsDechunked()
    {
        var rows = Parse(new Conversation()
            .Client("POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n0\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n5\r\nhello\r\nA ; ext\r\n0123456789\r\n0\r\nX-Checksum: 42\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal("abc", HttpRows.Text(x.RequestBody));
        Assert.Equal(3, x.RequestBodyLength);
        Assert.Equal("hello0123456789", HttpRows.Text(x.ResponseBody));
        Assert.Equal(15, x.ResponseBodyLength);
        Assert.Equal("chunked", x.TransferEncoding);
        Assert.Equal(new KeyValuePair<string, string>("X-Checksum", "42"), Assert.Single(x.ResponseTrailers));
        Assert.Empty(x.Anomalies);
    }

    [Fact]
    public void EmptyChunkedBodyHasLengthZeroButContentLengthZeroHasNone()
    {
        // tshark reports http.file_data (length 0) for a chunked body, none for Content-Length: 0
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        Assert.Equal(0, rows[0].ResponseBodyLength);
        Assert.Null(rows[1].ResponseBodyLength);
    }

    [Fact]
    public void CloseDelimitedBodyEndsAtConnectionEnd()
    {
        var rows = Parse(new Conversation()
            .Client("GET / HTTP/1.0\r\n\r\n")
            .Server("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>")
            .Server("</html>"));
        var x = Assert.Single(rows);
        Assert.Equal("HTTP/1.0", x.Protocol);
        Assert.Equal("<html></html>", HttpRows.Text(x.ResponseBody));
        Assert.Equal(3, x.ResponseFrame);
        Assert.Empty(x.Anomalies);
    }

    [Fact]
    public void UnansweredRequestAndResponseWithoutRequestAreEmittedAtEnd()
    {
        var rows = Parse(new Conversation()
            .Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .Client("GET /never HTTP/1.1\r\nHost: h\r\n\r\n"));
        Assert.Equal(2, rows.Count);
        Assert.Null(rows[0].Method);
        Assert.Equal(200, rows[0].Status);
        Assert.Contains("response_without_request", rows[0].Anomalies);
        Assert.Equal("/never", rows[1].Uri);
        Assert.Null(rows[1].Status);
    }

    [Fact]
    public void ObsFoldIsJoinedWithASpace()
    {
        var rows = Parse(new Conversation()
            .Client("GET / HTTP/1.1\r\nHost: h\r\nX-Long: part one\r\n  part two\r\n\r\n")
            .Server("HTTP/1.1 204 No Content\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal("part one part two", x.RequestHeaders.Single(h => h.Key == "X-Long").Value);
        Assert.Contains("obs_fold", x.Anomalies);
    }

    [Fact]
    public void BareLfLineEndingsAreAccepted()
    {
        var rows = Parse(new Conversation()
            .Client("GET /lf HTTP/1.1\nHost: h\n\n")
            .Server("HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"));
        var x = Assert.Single(rows);
        Assert.Equal(("h", "hi"), (x.Host, HttpRows.Text(x.ResponseBody)));
    }

    [Fact]
    public void MidstreamPickupResyncsAtTheNextStartLine()
    {
        var rows = Parse(new Conversation()
            .Server("tail of an earlier body\r\nmore\x01\x02HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .Client("body bytes of a POST we missedGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        Assert.Equal(2, rows.Count);
        Assert.Equal(404, rows[0].Status);
        Assert.Contains("midstream_pickup", rows[0].Anomalies);
        Assert.Equal("/next", rows[1].Uri);
        Assert.Equal("GET", rows[1].Method);
        Assert.Contains("midstream_pickup", rows[1].Anomalies);
        Assert.Equal(200, rows[1].Status);
    }

    [Fact]
    public void GapInsideContentLengthBodyIsCountedAndParsingContinues()
    {
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
            .Gap(FlowDirection.ServerToClient, 4)
            .Server("xyzHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"));
        Assert.Equal(2, rows.Count);
        Assert.Equal(10, rows[0].ResponseBodyLength);
        Assert.Equal("abcxyz", HttpRows.Text(rows[0].ResponseBody));
        Assert.Contains("body_gap", rows[0].Anomalies);
        Assert.Null(rows[0].ResponseBodyDecoded);
        Assert.Equal("!", HttpRows.Text(rows[1].ResponseBody));
    }

    [Fact]
    public void GapInsideHeadersCutsTheMessageAndResyncs()
    {
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nContent-Le")
            .Gap(FlowDirection.ServerToClient, 30)
            .Server("garbage\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"));
        Assert.Equal(2, rows.Count);
        Assert.Contains("framing_gap", rows[0].Anomalies);
        Assert.Contains("response_incomplete", rows[0].Anomalies);
        Assert.Equal(200, rows[1].Status);
        Assert.Equal("!", HttpRows.Text(rows[1].ResponseBody));
    }

    [Fact]
    public void ConnectTunnelStopsParsing()
    {
        var rows = Parse(new Conversation()
            .Client("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n\x16\x03\x01 not http")
            .Server("HTTP/1.1 200 Connection Established\r\n\r\n\x16\x03\x03 tls bytes HTTP/1.1 200 OK\r\n\r\n")
            .Client("GET /inside HTTP/1.1\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal("CONNECT", x.Method);
        Assert.Equal(200, x.Status);
        Assert.Contains("connect_tunnel", x.Anomalies);
    }

    [Fact]
    public void RefusedConnectReplaysHeldClientBytesAsHttp()
    {
        var rows = Parse(new Conversation()
            .Client("CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\nGET /after HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        Assert.Equal(2, rows.Count);
        Assert.Equal(407, rows[0].Status);
        Assert.Equal("/after", rows[1].Uri);
        Assert.Equal(200, rows[1].Status);
    }

    [Fact]
    public void WebSocketUpgradeBecomesATunnel()
    {
        var rows = Parse(new Conversation()
            .Client("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello")
            .Server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi"));
        var x = Assert.Single(rows);
        Assert.Equal(101, x.Status);
        Assert.Contains("upgrade_tunnel", x.Anomalies);
    }

    [Fact]
    public void AuthorizationSchemeIsSetButNeverTheCredentials()
    {
        var rows = Parse(new Conversation()
            .Client("GET / HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc.def.ghi\r\n\r\n")
            .Server("HTTP/1.1 204 No Content\r\n\r\n"));
        Assert.Equal("Bearer", Assert.Single(rows).AuthScheme);
    }

    [Fact]
    public void MessageCompletedByAHoleFillingSegmentTakesThatSegmentsFrame()
    {
        // the reassembler delivers the segment that fills a hole (frame 5) and then the buffered
        // later bytes with their own, older frame (4): the response became complete at frame 5
        var rows = Parse(new Conversation()
            .Client("GET / HTTP/1.1\r\nHost: h\r\n\r\n", frame: 1)
            .Server("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nab", frame: 2)
            .Server("cd", frame: 5)
            .Server("ef", frame: 4));
        var x = Assert.Single(rows);
        Assert.Equal(5, x.ResponseFrame);
        Assert.Equal(Ts(5), x.ResponseTimestampNs);
        Assert.Equal(Ts(4), x.ResponseLastByteNs);
    }

    [Fact]
    public void RequestsFromTheFlowsServerSwapTheRoles()
    {
        // connection picked up without its SYN: the flow table's "client" is the HTTP server
        var rows = Parse(new Conversation()
            .Server("GET /swapped HTTP/1.1\r\nHost: h\r\n\r\n")
            .Client("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
        var x = Assert.Single(rows);
        Assert.Equal(("/swapped", 200, "ok"), (x.Uri, x.Status, HttpRows.Text(x.ResponseBody)));
        Assert.Equal(("10.0.0.2", 80, "10.0.0.1", 40000), (x.ClientIp, x.ClientPort, x.ServerIp, x.ServerPort));
        Assert.Contains("roles_reversed", x.Anomalies);
    }

    [Fact]
    public void RolesAreNotSwappedOnceMessagesWereSeen()
    {
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\n\r\n")
            .Server("GET /b HTTP/1.1\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal(("/a", 204), (x.Uri, x.Status));
        Assert.DoesNotContain("roles_reversed", x.Anomalies);
        Assert.Contains("midstream_pickup", x.Anomalies);
    }

    [Fact]
    public void GapInsideChunkDataIsCountedAndTheChunkFramingContinues()
    {
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n8\r\nab")
            .Gap(FlowDirection.ServerToClient, 3)
            .Server("fgh\r\n2\r\nij\r\n0\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal(10, x.ResponseBodyLength);
        Assert.Equal("abfghij", HttpRows.Text(x.ResponseBody));
        Assert.Contains("body_gap", x.Anomalies);
        Assert.DoesNotContain("response_incomplete", x.Anomalies);
    }

    [Fact]
    public void GapRunningPastTheBodyResyncsAtTheNextRequest()
    {
        var rows = Parse(new Conversation()
            .Client("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nab")
            .Gap(FlowDirection.ClientToServer, 10)
            .Client("Host: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
            .Server("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"));
        Assert.Equal(2, rows.Count);
        Assert.Equal((4L, "/b"), (rows[0].RequestBodyLength!.Value, rows[1].Uri));
        Assert.Contains("body_gap", rows[0].Anomalies);
        Assert.Contains("framing_gap", rows[1].Anomalies);
    }
}
