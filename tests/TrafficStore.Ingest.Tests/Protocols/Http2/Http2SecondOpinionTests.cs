using System.Security.Cryptography;
using System.Text.Json;
using TrafficStore.Ingest.Tests.Oracle;

namespace TrafficStore.Ingest.Tests.Protocols.Http2;

/// <summary>
/// Fields the oracle's http section has no column for: request headers of the CONTINUATION
/// block tshark 4.0 cannot decode, bodies (Arkime's md5 of each), gRPC message counts (tshark's
/// grpc dissector: one grpc.message_length per message).
/// </summary>
public class Http2SecondOpinionTests
{
    [Fact]
    public void NghttpRequestWithContinuationMatchesArkime()
    {
        var rows = Http2CorpusTests.Run("h2c-nghttp2-prior-knowledge.pcap");
        var http = JsonDocument.Parse(File.ReadAllText(SharedData.Pcap("h2c-nghttp2-prior-knowledge.arkime.json")))
            .RootElement.GetProperty("sessions3")[0].GetProperty("body").GetProperty("http");

        var request = Assert.Single(rows, r => r.H2StreamId == 13);
        Assert.Equal("GET", request.Method);
        Assert.Equal("/", request.Uri);
        Assert.Contains("GET", http.GetProperty("method").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("/", http.GetProperty("path").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(http.GetProperty("host")[0].GetString(), request.Host);
        Assert.Equal(http.GetProperty("useragent")[0].GetString(), request.RequestHeaders.Single(h => h.Key == "user-agent").Value);

        // every non-pseudo request header Arkime saw (it lists names sorted), with the 1024-octet
        // continuation-test values that made the block span a CONTINUATION frame
        var names = http.GetProperty("requestHeader").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(names, request.RequestHeaders.Where(h => !h.Key.StartsWith(':')).Select(h => h.Key).Order(StringComparer.Ordinal).ToList());
        // Arkime keeps the first 1024 octets of a header value; the values are 4096 '-' (decoded
        // independently with Debian's python3-hpack 4.0 from the same TCP payloads). 6 x 4096
        // octets in an 18576-octet block: '-' is a 6-bit Huffman code.
        var values = http.GetProperty("requestHeaderValue").EnumerateArray().Select(e => e.GetString()!).ToList();
        for (int i = 1; i <= 6; i++)
        {
            string value = request.RequestHeaders.Single(h => h.Key == $"continuation-test-{i}").Value;
            Assert.Equal(4096, value.Length);
            Assert.Contains(value[..1024], values);
            Assert.All(value, c => Assert.Equal('-', c));
        }
        Assert.Equal(http.GetProperty("statuscode")[0].GetInt32(), request.Status);
    }

    [Fact]
    public void NghttpBodiesMatchArkimeDigests()
    {
        var rows = Http2CorpusTests.Run("h2c-nghttp2-prior-knowledge.pcap");
        var http = JsonDocument.Parse(File.ReadAllText(SharedData.Pcap("h2c-nghttp2-prior-knowledge.arkime.json")))
            .RootElement.GetProperty("sessions3")[0].GetProperty("body").GetProperty("http");
        var md5 = http.GetProperty("md5").EnumerateArray().Select(e => e.GetString()!).Order().ToList();
        var ours = rows.Select(r => Convert.ToHexStringLower(MD5.HashData(r.ResponseBody!))).Order().ToList();
        Assert.Equal(md5, ours);
        var pushed = Assert.Single(rows, r => r.H2StreamId == 2);
        Assert.Equal(39082, pushed.ResponseBody!.Length); // no padding in these DATA frames: body = resp_body
    }

    [Fact]
    public void GrpcUnaryMessagesMatchTshark()
    {
        var row = Assert.Single(Http2CorpusTests.Run("grpc-unary-h2c.pcapng"));
        Assert.Equal("greet.GreetService", row.GrpcService);
        Assert.Equal("Greet", row.GrpcMethod);
        // tshark -d tcp.port==50051,http2 -Y grpc: frame 39 one message of 9, frame 43 one of 15
        Assert.Equal((1, 9L, 1, 15L), (row.GrpcRequestMessages, row.GrpcRequestMessageBytes, row.GrpcResponseMessages, row.GrpcResponseMessageBytes));
        Assert.False(row.GrpcCompressed);
        Assert.Equal(0, row.GrpcStatus);
        Assert.Equal("", row.GrpcMessage); // grpc-message present and empty in the trailers (frame 43)
        Assert.Empty(row.Anomalies);
    }

    [Fact]
    public void GrpcBidiStreamingMessagesMatchTshark()
    {
        var row = Assert.Single(Http2CorpusTests.Run("grpc-bidi-streaming-h2c.pcapng"));
        Assert.Equal("greet.GreetService", row.GrpcService);
        Assert.Equal("GreetEveryone", row.GrpcMethod);
        // tshark: client messages of 9, 7, 6 octets (frames 17, 29, 37); server 16, 14, 13 (23, 31, 39)
        Assert.Equal((3, 22L, 3, 43L), (row.GrpcRequestMessages, row.GrpcRequestMessageBytes, row.GrpcResponseMessages, row.GrpcResponseMessageBytes));
        Assert.Equal(0, row.GrpcStatus);
        Assert.Equal(37, row.RequestBody!.Length);
        Assert.Equal(58, row.ResponseBody!.Length);
        Assert.Empty(row.Anomalies);
    }
}
