using System.IO.Compression;
using System.Text;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http1;
using TrafficStore.Ingest.Tests.Protocols.Http;
using static TrafficStore.Ingest.Tests.Protocols.Http1.Http1TestParser;

namespace TrafficStore.Ingest.Tests.Protocols.Http1;

public class Http1ContentAndUpgradeTests
{
    private static readonly byte[] Text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 20)));

    internal static byte[] Compress(string coding, byte[] data)
    {
        var output = new MemoryStream();
        using (Stream s = coding switch
        {
            "gzip" => new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true),
            "deflate" => new ZLibStream(output, CompressionLevel.Optimal, leaveOpen: true),
            "raw-deflate" => new DeflateStream(output, CompressionLevel.Optimal, leaveOpen: true),
            "br" => new BrotliStream(output, CompressionLevel.Optimal, leaveOpen: true),
            _ => throw new ArgumentException(coding),
        })
        {
            s.Write(data);
        }
        return output.ToArray();
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    [Theory]
    [InlineData("gzip", "gzip")]
    [InlineData("deflate", "deflate")]
    [InlineData("raw-deflate", "deflate")]
    [InlineData("br", "br")]
    public void ContentEncodedResponseIsDecoded(string how, string header)
    {
        var body = Compress(how, Text);
        var rows = Parse(new Conversation()
            .Client("GET /t HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip, deflate, br\r\n\r\n")
            .Server(Concat(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Encoding: {header}\r\nContent-Length: {body.Length}\r\n\r\n"), body)));
        var x = Assert.Single(rows);
        Assert.Equal(body.Length, x.ResponseBodyLength);
        Assert.Equal(body, x.ResponseBody);
        Assert.Equal(Text, x.ResponseBodyDecoded);
        Assert.Equal(Text.Length, x.ResponseBodyDecodedLength);
        Assert.Equal(header, x.ContentEncoding);
        Assert.Empty(x.Anomalies);
    }

    [Fact]
    public void StackedEncodingsAreRemovedInReverseOrderFromAChunkedBody()
    {
        // applied gzip first, then br: "Content-Encoding: gzip, br"
        var body = Compress("br", Compress("gzip", Text));
        var chunked = Concat(Encoding.ASCII.GetBytes($"{10:x}\r\n"), body[..10], "\r\n"u8.ToArray(),
            Encoding.ASCII.GetBytes($"{body.Length - 10:x}\r\n"), body[10..], "\r\n0\r\n\r\n"u8.ToArray());
        var rows = Parse(new Conversation()
            .Client("GET /t HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server(Concat("HTTP/1.1 200 OK\r\nContent-Encoding: gzip, br\r\nTransfer-Encoding: chunked\r\n\r\n"u8.ToArray(), chunked)));
        var x = Assert.Single(rows);
        Assert.Equal(body.Length, x.ResponseBodyLength);
        Assert.Equal(Text, x.ResponseBodyDecoded);
    }

    [Fact]
    public void GzipRequestBodyIsDecodedToo()
    {
        var body = Compress("gzip", Text);
        var rows = Parse(new Conversation()
            .Client(Concat(Encoding.ASCII.GetBytes($"POST /in HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\nContent-Length: {body.Length}\r\n\r\n"), body))
            .Server("HTTP/1.1 204 No Content\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal(body.Length, x.RequestBodyLength);
        Assert.Equal(Text, x.RequestBodyDecoded);
    }

    [Fact]
    public void UndecodableBodyKeepsRawAndRecordsAnomaly()
    {
        var rows = Parse(new Conversation()
            .Client("GET /t HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\r\nnot gzip!"));
        var x = Assert.Single(rows);
        Assert.Equal("not gzip!", HttpRows.Text(x.ResponseBody));
        Assert.Null(x.ResponseBodyDecoded);
        Assert.Equal(9, x.ResponseBodyDecodedLength);
        Assert.Contains("content_decode_failed", x.Anomalies);
    }

    [Fact]
    public void UnknownEncodingIsReportedNotGuessed()
    {
        var rows = Parse(new Conversation()
            .Client("GET /t HTTP/1.1\r\nHost: h\r\n\r\n")
            .Server("HTTP/1.1 200 OK\r\nContent-Encoding: zstd\r\nContent-Length: 3\r\n\r\nabc"));
        Assert.Contains("unsupported_content_encoding", Assert.Single(rows).Anomalies);
    }

    [Fact]
    public void MultipartBodyIsKeptWhole()
    {
        string body = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n--XyZ--\r\n";
        var rows = Parse(new Conversation()
            .Client($"POST /up HTTP/1.1\r\nHost: h\r\nContent-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {body.Length}\r\n\r\n{body}")
            .Server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        var x = Assert.Single(rows);
        Assert.Equal(body, HttpRows.Text(x.RequestBody));
        Assert.Equal("multipart/form-data; boundary=XyZ", x.RequestContentType);
    }

    /// <summary>Stands in for the HTTP/2 parser: records every byte it is given per direction.</summary>
    private sealed class RecordingParser : IStreamParser
    {
        public readonly MemoryStream[] Bytes = { new(), new() };
        public readonly List<long> Frames = new();
        public bool Ended;
        public void OnData(FlowDirection direction, ReadOnlySpan<byte> data, SegmentInfo segment)
        {
            Bytes[(int)direction].Write(data);
            if (Frames.Count == 0 || Frames[^1] != segment.FrameNumber) Frames.Add(segment.FrameNumber);
        }
        public void OnGap(FlowDirection direction, long missingBytes, SegmentInfo segment) { }
        public void OnEnd(long timestampNs) => Ended = true;
    }

    [Fact]
    public void H2cUpgradeHandsTheExactRemainingBytesToTheHttp2Parser()
    {
        const string clientH2 = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";
        const string serverH2 = "\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x06\x01\x05\x00\x00\x00\x01\x88";
        var c = new Conversation()
            .Client("GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n" + clientH2[..10])
            .Server("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + serverH2)
            .Client(clientH2[10..]);
        RecordingParser? last = null;
        var rows = StreamSplitHarness.Run<HttpExchange>(sink => new Http1Protocol(sink, null, _ => last = new RecordingParser()).CreateParser(HttpRows.Flow), c.Steps, HttpRows.Describe);
        var x = Assert.Single(rows);
        Assert.Equal(101, x.Status);
        Assert.Equal(2, x.ResponseFrame);
        Assert.Contains("h2c_upgrade", x.Anomalies);
        Assert.NotNull(last);
        Assert.Equal(Encoding.UTF8.GetBytes(clientH2), last!.Bytes[0].ToArray());
        Assert.Equal(Encoding.UTF8.GetBytes(serverH2), last.Bytes[1].ToArray());
        Assert.True(last.Ended);
    }

    [Fact]
    public void H2cUpgradeWithoutAnHttp2ParserIsATunnel()
    {
        var rows = Parse(new Conversation()
            .Client("GET /up HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .Server("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"));
        Assert.Contains("upgrade_tunnel", Assert.Single(rows).Anomalies);
    }
}
