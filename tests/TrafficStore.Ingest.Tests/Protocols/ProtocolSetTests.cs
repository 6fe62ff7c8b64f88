using System.Text;
using TrafficStore.Ingest.Decode;
using TrafficStore.Ingest.Flows;
using TrafficStore.Ingest.Protocols;
using TrafficStore.Ingest.Protocols.Dns;
using TrafficStore.Ingest.Protocols.Http;
using TrafficStore.Ingest.Protocols.Tls;

namespace TrafficStore.Ingest.Tests.Protocols;

public class ProtocolSetTests
{
    private static readonly FlowContext Flow = new(7, Transport.Tcp, NetAddress.Parse("10.0.0.1"), 40000, NetAddress.Parse("10.0.0.2"), 80);

    private static (ListSink<HttpExchange> Http, IStreamParser Parser) Http1Connection()
    {
        var http = new ListSink<HttpExchange>();
        var set = new ProtocolSet(http, new ListSink<DnsTransaction>(), new ListSink<TlsHandshake>());
        return (http, set.Http1.CreateParser(Flow));
    }

    private static void Exchange(IStreamParser parser, long frame, long tsNs, string path)
    {
        parser.OnData(FlowDirection.ClientToServer, Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: shop\r\n\r\n"), new SegmentInfo(frame, tsNs));
        parser.OnData(FlowDirection.ServerToClient, Encoding.ASCII.GetBytes("HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"), new SegmentInfo(frame + 1, tsNs + 1_000_000));
    }

    [Fact]
    public void ARequestRepeatedWithinASecondIsFlaggedAsARetry()
    {
        var (http, parser) = Http1Connection();
        Exchange(parser, 1, 1_000_000_000, "/cart");
        Exchange(parser, 3, 1_300_000_000, "/cart");      // 300 ms later: retry
        Exchange(parser, 5, 1_400_000_000, "/checkout");  // another target: not a retry
        Exchange(parser, 7, 9_000_000_000, "/cart");      // 7.7 s later: a new request, not a retry
        parser.OnEnd(10_000_000_000);
        Assert.Equal(new[] { false, true, false, false }, http.Rows.Select(r => r.Retry));
    }

    [Fact]
    public void ExchangeIdsAreUniqueAcrossTheRun()
    {
        var (http, parser) = Http1Connection();
        for (int i = 0; i < 5; i++) Exchange(parser, 1 + 2 * i, (i + 1) * 10_000_000_000L, "/p" + i);
        parser.OnEnd(100_000_000_000);
        Assert.Equal(new long[] { 1, 2, 3, 4, 5 }, http.Rows.Select(r => r.ExchangeId));
    }
}
