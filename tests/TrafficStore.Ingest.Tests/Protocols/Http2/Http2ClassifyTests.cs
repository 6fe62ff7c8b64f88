using System.Text;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Http2;
using static TrafficStore.Ingest.Tests.Protocols.Http2.H2;
using T = TrafficStore.Ingest.Protocols.Http2.Http2FrameType;

namespace TrafficStore.Ingest.Tests.Protocols.Http2;

public class Http2ClassifyTests
{
    private static readonly Http2Protocol Protocol = new(new ListSink<HttpExchange>());

    [Fact]
    public void ClientPrefaceIsRecognisedOnAnyPort()
    {
        Assert.Equal(ProtocolMatch.Yes, Protocol.Classify(C2S, Preface));
        Assert.Equal(ProtocolMatch.Yes, Protocol.Classify(C2S, Concat(Preface, Settings())));
        Assert.False(Protocol.IsWellKnownPort(50051));
    }

    [Fact]
    public void PrefixOfThePrefaceNeedsMoreData()
    {
        for (int n = 1; n < Preface.Length; n++)
            Assert.Equal(ProtocolMatch.NeedMoreData, Protocol.Classify(C2S, Preface.AsSpan(0, n)));
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("PRI * HTTP/1.1\r\n\r\n")]
    [InlineData("SSH-2.0-OpenSSH_9.0\r\n")]
    public void OtherProtocolsAreNotHttp2(string text)
    {
        Assert.Equal(ProtocolMatch.No, Protocol.Classify(C2S, Encoding.ASCII.GetBytes(text)));
        Assert.Equal(ProtocolMatch.No, Protocol.Classify(S2C, Encoding.ASCII.GetBytes(text)));
    }

    [Fact]
    public void TlsRecordsAreNotHttp2()
    {
        var clientHello = new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03 };
        Assert.Equal(ProtocolMatch.No, Protocol.Classify(C2S, clientHello));
    }

    [Fact]
    public void ServerSettingsFrameIsRecognised()
    {
        Assert.Equal(ProtocolMatch.Yes, Protocol.Classify(S2C, Settings((3, 100), (4, 65535))));
        Assert.Equal(ProtocolMatch.Yes, Protocol.Classify(S2C, Concat(Settings(), Frame(T.WindowUpdate, 0, 0, U32(1000)))));
        Assert.Equal(ProtocolMatch.NeedMoreData, Protocol.Classify(S2C, Settings((3, 100)).AsSpan(0, 5)));
    }

    [Fact]
    public void MidStreamFramesAreRecognised()
    {
        var frames = Concat(Frame(T.Data, 0, 3, new byte[20]), Frame(T.Headers, 5, 5, new byte[] { 0x82 }));
        Assert.Equal(ProtocolMatch.Yes, Protocol.Classify(C2S, frames));
        // a plausible header whose frame is not complete yet
        Assert.Equal(ProtocolMatch.NeedMoreData, Protocol.Classify(C2S, frames.AsSpan(0, 15)));
    }

    [Fact]
    public void ImplausibleHeadersAreRejected()
    {
        Assert.Equal(ProtocolMatch.No, Protocol.Classify(S2C, Frame(T.Data, 0, 0, new byte[4]))); // DATA on stream 0
        Assert.Equal(ProtocolMatch.No, Protocol.Classify(S2C, Frame(T.Ping, 0, 0, new byte[4]))); // PING must be 8 octets
        Assert.Equal(ProtocolMatch.No, Protocol.Classify(S2C, Frame(T.Settings, 0, 1, new byte[6]))); // SETTINGS on a stream
        Assert.Equal(ProtocolMatch.No, Protocol.Classify(S2C, Frame(0x20, 0, 1, new byte[6]))); // unknown type
    }
}
