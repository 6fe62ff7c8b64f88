using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http1;
using TrafficStore.Ingest.Tests.Protocols.Http;
using static TrafficStore.Ingest.Tests.Protocols.Http1.Http1TestParser;

namespace TrafficStore.Ingest.Tests.Protocols.Http1;

public class Http1HostileInputTests
{
    private static readonly Http1Options Small = new() { MaxHeaderBytes = 64, MaxHeaders = 3, MaxChunkLineBytes = 32 };

    [Fact]
    public void HugeHeaderLineIsSkippedAndTheMessageStillParses()
    {
        var rows = Parse(new Conversation()
            .Client("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + new string('a', 200) + "\r\nAccept: */*\r\n\r\n")
            .Server("HTTP/1.1 204 No Content\r\n\r\n"), Small);
        var x = Assert.Single(rows);
        Assert.Equal(new[] { "Host", "Accept" }, x.RequestHeaders.Select(h => h.Key));
        Assert.Contains("header_line_too_long", x.Anomalies);
        Assert.Equal(204, x.Status);
    }

    [Fact]
    public void HeaderCountCapKeepsReadingFramingFields()
    {
        var rows = Parse(new Conversation()
            .Client("POST / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nContent-Length: 2\r\n\r\nokGET /2 HTTP/1.1\r\n\r\n")
            .Server("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), Small);
        Assert.Equal(2, rows.Count);
        Assert.Equal(3, rows[0].RequestHeaders.Count);
        Assert.Contains("header_count_cap", rows[0].Anomalies);
        Assert.Equal("ok", HttpRows.Text(rows[0].RequestBody));
        Assert.Equal("/2", rows[1].Uri);
    }

    [Fact]
    public void OverlongStartLineResyncs()
    {
        var rows = Parse(new Conversation()
            .Client("GET /" + new string('x', 100) + " HTTP/1.1\r\n\r\nGET /ok HTTP/1.1\r\n\r\n")
            .Server("HTTP/1.1 204 No Content\r\n\r\n"), Small);
        var x = Assert.Single(rows);
        Assert.Equal("/ok", x.Uri);
        Assert.Contains("start_line_too_long", x.Anomalies);
    }

    [Theory]
    [InlineData("-5")]
    [InlineData("99999999999999999999999")]
    [InlineData("12abc")]
    [InlineData("")]
    public void BadContentLengthIsAnAnomalyNotAnException(string value)
    {
        var rows = Parse(new Conversation()
            .Client($"POST / HTTP/1.1\r\nContent-Length: {value}\r\n\r\nxxxx\r\nGET /next HTTP/1.1\r\n\r\n")
            .Server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        Assert.Equal(2, rows.Count);
        Assert.Contains("invalid_content_length", rows[0].Anomalies);
        Assert.Equal("/next", rows[1].Uri);
    }

    [Fact]
    public void ConflictingContentLengthsAreFlagged()
    {
        var rows = Parse(new Conversation()
            .Client("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
            .Server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"));
        Assert.Contains("conflicting_content_length", Assert.Single(rows).Anomalies);
    }

    [Fact]
    public void TransferEncodingOverridesContentLengthAndIsFlagged()
    {
        var rows = Parse(new Conversation()
            .Client("POST / HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n")
            .Server("HTTP/1.1 204 No Content\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal("ab", HttpRows.Text(x.RequestBody));
        Assert.Contains("content_length_with_transfer_encoding", x.Anomalies);
    }

    [Theory]
    [InlineData("zz")]
    [InlineData("fffffffffffffffff")]
    [InlineData("-1")]
    [InlineData("0x10")]
    public void BadChunkSizeCutsTheMessageAndResyncs(string size)
    {
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
            .Server($"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!"));
        Assert.Equal(2, rows.Count);
        Assert.Contains("invalid_chunk_size", rows[0].Anomalies);
        Assert.Contains("response_incomplete", rows[0].Anomalies);
        Assert.Equal("!", HttpRows.Text(rows[1].ResponseBody));
    }

    [Fact]
    public void OverlongChunkLineIsInvalid()
    {
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;" + new string('e', 100) + "\r\nabc\r\n0\r\n\r\n"), Small);
        Assert.Contains("invalid_chunk_size", Assert.Single(rows).Anomalies);
    }

    [Fact]
    public void BodyCapKeepsCountingTheLength()
    {
        var options = new Http1Options { Payload = new PayloadOptions { MaxBodyBytes = 4 } };
        var rows = Parse(new Conversation()
            .Client("GET /a HTTP/1.1\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"), options);
        var x = Assert.Single(rows);
        Assert.Equal("0123", HttpRows.Text(x.ResponseBody));
        Assert.Equal(10, x.ResponseBodyLength);
        Assert.True(x.BodyTruncated);
        Assert.Contains("body_cap", x.Anomalies);
    }

    [Fact]
    public void DecodedBodyCapCountsTheFullDecodedLength()
    {
        var plain = new byte[100_000];
        var body = Http1ContentAndUpgradeTests.Compress("gzip", plain);
        var options = new Http1Options { Payload = new PayloadOptions { MaxDecodedBodyBytes = 1000 } };
        var rows = Parse(new Conversation()
            .Client("GET / HTTP/1.1\r\n\r\n")
            .Server(System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {body.Length}\r\n\r\n").Concat(body).ToArray()), options);
        var x = Assert.Single(rows);
        Assert.Equal(1000, x.ResponseBodyDecoded!.Length);
        Assert.Equal(100_000, x.ResponseBodyDecodedLength);
        Assert.True(x.BodyTruncated);
        Assert.Contains("decoded_body_cap", x.Anomalies);
    }

    [Fact]
    public void RandomBytesNeverThrow()
    {
        var random = new Random(12345);
        for (int round = 0; round < 200; round++)
        {
            var sink = new ListSink<HttpExchange>();
            var parser = new Http1Protocol(sink, Small).CreateParser(HttpRows.Flow);
            for (int i = 0; i < 20; i++)
            {
                var data = new byte[random.Next(0, 300)];
                random.NextBytes(data);
                // sprinkle HTTP-ish tokens so that the parser gets deep into its states
                string[] words = { "HTTP/1.1 200 OK\r\n", "GET / HTTP/1.1\r\n", "Content-Length: 5\r\n", "Transfer-Encoding: chunked\r\n", "\r\n", "5\r\n", "0\r\n\r\n" };
                var text = System.Text.Encoding.ASCII.GetBytes(words[random.Next(words.Length)]);
                var dir = (FlowDirection)random.Next(2);
                if (random.Next(10) == 0) parser.OnGap(dir, random.Next(1, 1000), StreamStep.At(i));
                parser.OnData(dir, random.Next(2) == 0 ? data : text, StreamStep.At(i));
            }
            parser.OnEnd(0);
        }
    }

    [Fact]
    public void ClassifierRecognisesMethodsAndStatusLines()
    {
        var p = new Http1Protocol(new ListSink<HttpExchange>());
        Assert.Equal(ProtocolMatch.Yes, p.Classify(FlowDirection.ClientToServer, "GET / HTTP/1.1\r\n"u8));
        Assert.Equal(ProtocolMatch.Yes, p.Classify(FlowDirection.ClientToServer, "PROPFIND /dav HTTP/1.1"u8));
        Assert.Equal(ProtocolMatch.NeedMoreData, p.Classify(FlowDirection.ClientToServer, "PO"u8));
        Assert.Equal(ProtocolMatch.No, p.Classify(FlowDirection.ClientToServer, "GETX / HTTP/1.1"u8));
        Assert.Equal(ProtocolMatch.No, p.Classify(FlowDirection.ClientToServer, "\x16\x03\x01\x02\x00"u8));
        Assert.Equal(ProtocolMatch.Yes, p.Classify(FlowDirection.ServerToClient, "HTTP/1.0 404 Not Found"u8));
        Assert.Equal(ProtocolMatch.NeedMoreData, p.Classify(FlowDirection.ServerToClient, "HTTP/1.1 2"u8));
        Assert.Equal(ProtocolMatch.No, p.Classify(FlowDirection.ServerToClient, "HTTP/2.0 200"u8));
        // either kind from either side: the flow's guess of the client can be wrong without a SYN
        Assert.Equal(ProtocolMatch.Yes, p.Classify(FlowDirection.ServerToClient, "POST /x HTTP/1.1"u8));
        Assert.Equal(ProtocolMatch.Yes, p.Classify(FlowDirection.ClientToServer, "HTTP/1.1 200 OK"u8));
        Assert.True(p.IsWellKnownPort(80));
        Assert.False(p.IsWellKnownPort(443));
    }

    [Fact]
    public void ResyncFindsAStatusLineAtTheEndOfAnOverlongBinaryLine()
    {
        var junk = new string('\u0007', 300);
        var rows = Parse(new Conversation()
            .Client("GET /x HTTP/1.1\r\n\r\n")
            .Server("\u0001" + junk)
            .Server(junk + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"), Small);
        var x = Assert.Single(rows);
        Assert.Equal(404, x.Status);
        Assert.Contains("start_line_too_long", x.Anomalies);
    }

    [Fact]
    public void HeldBytesAfterAnUnansweredUpgradeAreParsedOnceTheCapIsReached()
    {
        var options = new Http1Options { MaxHeldUpgradeBytes = 20 };
        var rows = Parse(new Conversation()
            .Client("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), options);
        Assert.Equal(2, rows.Count);
        Assert.Equal((400, "/next", 200), (rows[0].Status!.Value, rows[1].Uri, rows[1].Status!.Value));
        Assert.Contains("upgrade_hold_overflow", rows[1].Anomalies);
    }
}
